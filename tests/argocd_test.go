package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dependsOn(r *offline.Resource, typ, name string) bool {
	for _, d := range r.Dependencies {
		if strings.HasSuffix(d, "::"+name) && strings.Contains(d, typ) {
			return true
		}
	}
	return false
}

// TestArgoCDOnTheHub checks the release (pinned chart, lab settings of the
// dev stack), the gitops repo's credential, the AppProject, and that both
// ApplicationSets use that project and go before Argo CD on destroy.
func TestArgoCDOnTheHub(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	rel := named(t, res, typeRelease, "argocd")
	assert.Equal(t, "argo-cd", rel.Inputs["chart"].StringValue())
	assert.Equal(t, "9.4.16", rel.Inputs["version"].StringValue())
	assert.Equal(t, "https://argoproj.github.io/argo-helm", path(rel.Inputs, "repositoryOpts", "repo").StringValue())
	values := reveal(rel.Inputs["values"]).(map[string]any)
	configs := values["configs"].(map[string]any)
	assert.Equal(t, true, configs["params"].(map[string]any)["server.insecure"], "dev is a local lab")
	assert.Equal(t, "true", configs["cm"].(map[string]any)["admin.enabled"], "dev keeps the admin login")
	assert.Equal(t, "role:readonly", configs["rbac"].(map[string]any)["policy.default"])
	assert.Equal(t, "normal", configs["cm"].(map[string]any)["resource.respectRBAC"],
		"the controller caches only what argocd-manager may list, or no namespace-scoped cluster syncs")
	secret := configs["secret"].(map[string]any)
	assert.NotContains(t, secret, "githubSecret", "no webhook, so no webhook secret (not even an empty one)")
	assert.Equal(t, "[computed random:index/randomPassword:RandomPassword argocd-admin-password.bcryptHash]", secret["argocdServerAdminPassword"],
		"the admin's password is the program's: Argo CD gets its bcrypt hash")
	assert.True(t, path(rel.Inputs, "values", "configs", "secret", "argocdServerAdminPassword").IsSecret())
	password := res.Outputs["argocdAdminPassword"]
	require.True(t, password.IsSecret(), "the admin's password is a secret output")
	assert.Equal(t, "[computed random:index/randomPassword:RandomPassword argocd-admin-password.result]", password.SecretValue().Element.StringValue())

	repo := named(t, res, typeSecret, "argocd-gitops-repo")
	assert.Equal(t, "repository", path(repo.Inputs, "metadata", "labels", "argocd.argoproj.io/secret-type").StringValue())
	require.True(t, repo.Inputs["stringData"].IsSecret())
	assert.Equal(t, "git@github.com:gitops-seminar/tech-seminar-gitops.git", path(repo.Inputs, "stringData", "url").StringValue())
	assert.Equal(t, offline.ComputedPlaceholder("tls:index/privateKey:PrivateKey", "repos-argocd-key", "privateKeyOpenssh"),
		path(repo.Inputs, "stringData", "sshPrivateKey").StringValue())
	deployKey := named(t, res, "github:index/repositoryDeployKey:RepositoryDeployKey", "repos-argocd-key")
	assert.True(t, deployKey.Inputs["readOnly"].BoolValue(), "Argo CD's key cannot push")

	project := one(t, res, typeProject)
	assert.Equal(t, "gitops-monitor", path(project.Inputs, "metadata", "name").StringValue())
	spec := reveal(project.Inputs["spec"]).(map[string]any)
	assert.Equal(t, []any{"git@github.com:gitops-seminar/tech-seminar-gitops.git"}, spec["sourceRepos"])
	assert.Equal(t, []any{map[string]any{"server": "*", "namespace": "gitops-monitor"}}, spec["destinations"])
	assert.Empty(t, spec["clusterResourceWhitelist"], "no cluster-scoped kind: the program creates the namespace")
	assert.Equal(t, []any{
		map[string]any{"group": "rbac.authorization.k8s.io", "kind": "Role"},
		map[string]any{"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"},
		map[string]any{"group": "", "kind": "ResourceQuota"},
		map[string]any{"group": "", "kind": "LimitRange"},
	}, spec["namespaceResourceBlacklist"], "no commit grants rights or lifts the namespace's limits")

	for _, name := range []string{"gitops-monitor-auto", "gitops-monitor-manual"} {
		set := named(t, res, typeAppSet, name)
		assert.True(t, dependsOn(set, typeRelease, "argocd"), "%s must be deleted while Argo CD runs", name)
		assert.True(t, dependsOn(set, typeProject, "argocd-project"), "%s needs its project", name)
		assert.Equal(t, "argocd", path(set.Inputs, "metadata", "namespace").StringValue())
	}
}

// TestApplicationSets checks the seminar's two ApplicationSets: auto syncs
// with prune and self-heal, manual (prod) never syncs on its own; both use
// the cluster generator by sync label, the project, and the manifests/<env> path.
func TestApplicationSets(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	for name, sync := range map[string]string{"gitops-monitor-auto": "auto", "gitops-monitor-manual": "manual"} {
		spec := reveal(named(t, res, typeAppSet, name).Inputs["spec"]).(map[string]any)
		assert.Equal(t, true, spec["goTemplate"])
		assert.Equal(t, []any{"missingkey=error"}, spec["goTemplateOptions"])
		gen := spec["generators"].([]any)[0].(map[string]any)["clusters"].(map[string]any)
		assert.Equal(t, map[string]any{"gitops.platform/sync": sync}, gen["selector"].(map[string]any)["matchLabels"])
		tmpl := spec["template"].(map[string]any)
		assert.Equal(t, "gitops-monitor-{{ .name }}", tmpl["metadata"].(map[string]any)["name"])
		app := tmpl["spec"].(map[string]any)
		assert.Equal(t, "gitops-monitor", app["project"], "never the default project, never templated")
		assert.Equal(t, "manifests/{{ .name }}", app["source"].(map[string]any)["path"])
		assert.Equal(t, map[string]any{"server": "{{ .server }}", "namespace": "gitops-monitor"}, app["destination"])
		policy := app["syncPolicy"].(map[string]any)
		assert.Equal(t, []any{"ServerSideApply=true"}, policy["syncOptions"], "no CreateNamespace: the program creates the namespace")
		assert.NotNil(t, policy["retry"])
		if sync == "auto" {
			assert.Equal(t, map[string]any{"prune": true, "selfHeal": true}, policy["automated"])
			assert.Equal(t, []any{map[string]any{"key": "gitops.platform/env", "operator": "NotIn", "values": []any{"prod"}}},
				gen["selector"].(map[string]any)["matchExpressions"], "automated sync never reaches prod, even a mislabelled one")
			assert.NotContains(t, spec, "syncPolicy", "deleting the automated set removes dev's and staging's workloads")
		} else {
			assert.NotContains(t, policy, "automated", "prod waits for a person")
			assert.Equal(t, map[string]any{"preserveResourcesOnDeletion": true}, spec["syncPolicy"],
				"deleting or replacing the manual set leaves prod's workloads running")
		}
	}
}

// TestArgoCDValues checks the chart values for a shared, HA hub: TLS on,
// admin off, two of everything, redis-ha, metrics only with monitoring.
func TestArgoCDValues(t *testing.T) {
	t.Parallel()
	v, err := argocd.Values(argocd.ValuesOptions{HA: true, Metrics: true, ArgoCDURL: "https://argocd.example.com"})
	require.NoError(t, err)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var got struct {
		Configs struct {
			CM     map[string]string `json:"cm"`
			Params map[string]any    `json:"params"`
		} `json:"configs"`
		Controller, Server, RepoServer, ApplicationSet struct {
			Replicas int `json:"replicas"`
			Metrics  struct {
				Enabled        bool `json:"enabled"`
				ServiceMonitor struct {
					Enabled bool `json:"enabled"`
				} `json:"serviceMonitor"`
			} `json:"metrics"`
		}
		RedisHA struct {
			Enabled          bool  `json:"enabled"`
			HardAntiAffinity *bool `json:"hardAntiAffinity"`
			HAProxy          struct {
				HardAntiAffinity *bool `json:"hardAntiAffinity"`
			} `json:"haproxy"`
		} `json:"redis-ha"`
		Notifications struct {
			ArgoCDURL string `json:"argocdUrl"`
		} `json:"notifications"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "false", got.Configs.CM["admin.enabled"])
	assert.Equal(t, false, got.Configs.Params["server.insecure"])
	for name, c := range map[string]int{"controller": got.Controller.Replicas, "server": got.Server.Replicas,
		"repoServer": got.RepoServer.Replicas, "applicationSet": got.ApplicationSet.Replicas} {
		assert.Equal(t, 2, c, name)
	}
	assert.True(t, got.Controller.Metrics.ServiceMonitor.Enabled)
	assert.True(t, got.RedisHA.Enabled)
	// The chart's default (true) leaves redis-ha Pending on fewer than three
	// nodes; a minikube hub has one.
	require.NotNil(t, got.RedisHA.HardAntiAffinity, "the platform sets it: the chart's default is hard")
	assert.False(t, *got.RedisHA.HardAntiAffinity, "redis: soft anti-affinity")
	require.NotNil(t, got.RedisHA.HAProxy.HardAntiAffinity)
	assert.False(t, *got.RedisHA.HAProxy.HardAntiAffinity, "haproxy: soft anti-affinity")
	assert.Equal(t, "https://argocd.example.com", got.Notifications.ArgoCDURL)

	_, err = argocd.Values(argocd.ValuesOptions{Notifications: map[string]string{"subscriptions": "x"}})
	assert.Error(t, err, "an unknown notifications key is refused, not dropped")
}

// TestLeastPrivilegeIdentity checks Argo CD's identity in each cluster: a
// ServiceAccount whose rights stop at the app's namespace, with no
// cluster-wide role at all, and a registration that tells Argo CD to
// manage that namespace only and no cluster-scoped kind.
func TestLeastPrivilegeIdentity(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		sa := named(t, res, "kubernetes:core/v1:ServiceAccount", env+"-manager")
		assert.Equal(t, "argocd-manager", path(sa.Inputs, "metadata", "name").StringValue())
		assert.Equal(t, env, providerOf(sa), "the identity lives in %s's own cluster", env)
		role := named(t, res, "kubernetes:rbac.authorization.k8s.io/v1:Role", env+"-manager-app")
		assert.Equal(t, "gitops-monitor", path(role.Inputs, "metadata", "namespace").StringValue())
		for _, r := range reveal(role.Inputs["rules"]).([]any) {
			groups := r.(map[string]any)["apiGroups"].([]any)
			assert.NotContains(t, groups, "*", "%s: no wildcard API group", env)
			assert.NotContains(t, groups, "rbac.authorization.k8s.io", "%s: no Role or RoleBinding", env)
		}
		ns := named(t, res, "kubernetes:core/v1:Namespace", env+"-app-namespace")
		for _, mode := range []string{"enforce", "audit", "warn"} {
			assert.Equal(t, "restricted", path(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/"+mode).StringValue(), "%s: %s", env, mode)
			assert.Equal(t, "v1.33", path(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/"+mode+"-version").StringValue())
		}
		assert.Empty(t, byType(res, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"), "nothing outside the app's namespace")
		assert.Empty(t, byType(res, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"))
		tok := named(t, res, typeSecret, env+"-manager-token")
		assert.Equal(t, "kubernetes.io/service-account-token", tok.Inputs["type"].StringValue())
		assert.Equal(t, "argocd-manager", path(tok.Inputs, "metadata", "annotations", "kubernetes.io/service-account.name").StringValue())

		reg := named(t, res, typeSecret, env+"-registration")
		data := reveal(reg.Inputs["stringData"]).(map[string]any)
		assert.Equal(t, "gitops-monitor", data["namespaces"])
		assert.Equal(t, "false", data["clusterResources"], "Argo CD watches no cluster-scoped kind there")
		assert.True(t, reg.Inputs["stringData"].IsSecret(), "%s: the registration is a secret", env)
		assert.True(t, path(reg.Inputs, "metadata", "annotations").IsNull(), "no annotation that no template reads")
	}
}

// TestInsecureClusterIsWarnedAbout checks that turning off TLS checks is
// explicit, warned about, and drops the CA (Argo CD refuses both).
func TestInsecureClusterIsWarnedAbout(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "staging", map[string]string{"clusterInsecure": "true"})
	require.NoError(t, err)
	var insecure []string
	for _, w := range res.Warnings {
		if strings.Contains(w, "clusterInsecure") {
			insecure = append(insecure, w)
		}
	}
	require.Len(t, insecure, 1, "warnings: %v", res.Warnings)
	assert.Contains(t, insecure[0], "will not verify the certificate of staging's API server")
	var cfg struct {
		TLSClientConfig map[string]any `json:"tlsClientConfig"`
	}
	require.NoError(t, json.Unmarshal([]byte(path(named(t, res, typeSecret, "staging-registration").Inputs, "stringData", "config").StringValue()), &cfg))
	assert.Equal(t, map[string]any{"insecure": true}, cfg.TLSClientConfig)
}

// writeKubeconfig writes a minikube-style kubeconfig: the staging cluster's
// CA is a file next to it, dev's is inline data.
func writeKubeconfig(t *testing.T, withCAFile bool) string {
	t.Helper()
	dir := t.TempDir()
	if withCAFile {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600))
	}
	kc := `apiVersion: v1
kind: Config
clusters:
- name: staging
  cluster:
    server: https://127.0.0.1:65007
    certificate-authority: ca.crt
- name: dev
  cluster:
    server: https://127.0.0.1:65001
    certificate-authority-data: ZGV2LWNh
contexts:
- name: staging
  context: {cluster: staging, user: staging}
- name: dev
  context: {cluster: dev, user: dev}
`
	p := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(p, []byte(kc), 0o600))
	return p
}

// TestKubeconfigCA checks that the CA comes from the kubeconfig, a file's
// content embedded, and that a missing context or CA file stops the program
// before any resource, naming the key to fix.
func TestKubeconfigCA(t *testing.T) {
	t.Parallel()
	kc := writeKubeconfig(t, true)
	access, err := infra.ReadKubeconfig(kc, "staging")
	require.NoError(t, err)
	assert.Equal(t, "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=", access.CAData)
	access, err = infra.ReadKubeconfig(kc, "dev")
	require.NoError(t, err)
	assert.Equal(t, "ZGV2LWNh", access.CAData)

	st, err := offline.LoadStack(projectDir, "staging")
	require.NoError(t, err)
	st.Kubeconfig = kc
	refs := map[string]resource.PropertyMap{"dev": evaluate(t, "dev").Outputs}
	res, err := offline.Run(st, refs)
	require.NoError(t, err)
	var cfg struct {
		TLSClientConfig struct {
			CAData string `json:"caData"`
		} `json:"tlsClientConfig"`
	}
	require.NoError(t, json.Unmarshal([]byte(path(named(t, res, typeSecret, "staging-registration").Inputs, "stringData", "config").StringValue()), &cfg))
	assert.Equal(t, "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=", cfg.TLSClientConfig.CAData)

	st.Kubeconfig = writeKubeconfig(t, false)
	res, err = offline.Run(st, refs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gitops-platform:kubeconfig")
	assert.Contains(t, err.Error(), "ca.crt")
	assert.Empty(t, res.Resources)

	st, err = offline.LoadStack(projectDir, "prod")
	require.NoError(t, err)
	st.Kubeconfig = kc
	res, err = offline.Run(st, refs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `gitops-platform:kubeContext: "prod": no context "prod"`)
	assert.Contains(t, err.Error(), "contexts there: dev, staging")
	assert.Empty(t, res.Resources)
}
