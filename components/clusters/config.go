package clusters

import (
	"encoding/json"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"

	"github.com/gitops-platform/gitops-platform/components/internal/podsecurity"
)

// clusterSecretPrefix names each cluster Secret, cluster-<env>.
const clusterSecretPrefix = "cluster-"

// clusterConfig is the `config` field of an Argo CD cluster Secret
// (argo-cd's v1alpha1.ClusterConfig, the fields this platform uses).
type clusterConfig struct {
	BearerToken     string          `json:"bearerToken"`
	TLSClientConfig TLSClientConfig `json:"tlsClientConfig"`
}

// TLSClientConfig is how Argo CD trusts the cluster's API server.
type TLSClientConfig struct {
	// Insecure turns off certificate checks; the seminar needed it, this
	// platform does not unless config asks.
	Insecure bool `json:"insecure"`
	// CAData is the cluster's CA bundle, base64.
	CAData string `json:"caData,omitempty"`
}

// configJSON renders the cluster Secret's config.
func configJSON(c clusterConfig) (string, error) {
	if c.BearerToken == "" {
		return "", fmt.Errorf("cluster config: no bearer token")
	}
	if c.TLSClientConfig.Insecure {
		c.TLSClientConfig.CAData = "" // Argo CD refuses a CA together with insecure
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("cluster config: %w", err)
	}
	return string(b), nil
}

// Labels are the cluster Secret's labels: Argo CD's type label, and the
// environment and sync mode the ApplicationSets select on.
func Labels(env, syncMode string) map[string]string {
	return map[string]string{
		platform.LabelSecretType: platform.SecretTypeCluster,
		platform.LabelEnv:        env,
		platform.LabelSync:       syncMode,
		platform.LabelManagedBy:  platform.ManagedByPulumi,
	}
}

// Data is the cluster Secret's fields but its config: the cluster's name
// (the environment, which the ApplicationSets template into each
// Application), its API server as the hub reaches it, and what Argo CD
// manages there: the app's namespace and no cluster-scoped kind, which is
// all the app needs and all its identity may see.
func Data(env, server, appNamespace string) map[string]string {
	return map[string]string{
		"name":             env,
		"server":           server,
		"namespaces":       appNamespace,
		"clusterResources": "false",
	}
}

// namespaceLabels are the app namespace's labels: who manages it, its
// environment, and the restricted Pod Security level, enforced, so that no
// commit to the gitops repo can run a privileged Pod, share the host's
// namespaces or mount its filesystem.
func namespaceLabels(env string) map[string]string {
	labels := podsecurity.Restricted()
	labels[platform.LabelManagedBy] = platform.ManagedByPulumi
	labels[platform.LabelEnv] = env
	return labels
}

// SecretName is the cluster Secret's name in the hub's argocd namespace.
func SecretName(env string) string { return clusterSecretPrefix + env }
