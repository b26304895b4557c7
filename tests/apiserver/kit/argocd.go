package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ArgoCDNamespace is Argo CD's namespace in the stack files.
const ArgoCDNamespace = "argocd"

// PartOfArgoCD is the label without which Argo CD reads none of its
// ConfigMaps and Secrets ("configmap argocd-cm not found").
var PartOfArgoCD = map[string]string{"app.kubernetes.io/part-of": "argocd"}

// ArgoCDConfig is what the argo-cd chart (9.4.16) writes from the values
// the program gives it, with the chart's own key mapping: configs.cm →
// argocd-cm, configs.params → argocd-cmd-params-cm, configs.rbac →
// argocd-rbac-cm, configs.secret.githubSecret → argocd-secret's
// webhook.github.secret, configs.secret.argocdServerAdminPassword → its
// admin.password, configs.secret.extra → argocd-secret, notifications.notifiers/triggers/templates and
// argocdUrl → argocd-notifications-cm. The chart's own defaults beyond
// these keys are not reproduced.
type ArgoCDConfig struct {
	ConfigMaps map[string]map[string]string
	Secret     map[string]string
}

// HelmValues reads the values of the hub's argocd Helm release from the
// render's resources.json.
func HelmValues(renderDir string) (map[string]any, error) {
	b, err := os.ReadFile(filepath.Join(renderDir, "dev", "resources.json"))
	if err != nil {
		return nil, err
	}
	var resources []struct {
		Type   string         `json:"type"`
		Name   string         `json:"name"`
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal(b, &resources); err != nil {
		return nil, err
	}
	for _, r := range resources {
		if r.Type == "kubernetes:helm.sh/v3:Release" && r.Name == "argocd" {
			v, ok := r.Inputs["values"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("the argocd release's values are %T, not a map (a secret, unknown?)", r.Inputs["values"])
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("no argocd Helm release in the hub's render")
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, e := range m {
		switch x := e.(type) {
		case string:
			out[k] = x
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

func nested(v map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := v[k].(map[string]any)
		v = next
	}
	return v
}

func ArgoCDConfigFromValues(values map[string]any) (*ArgoCDConfig, error) {
	configs := nested(values, "configs")
	n := nested(values, "notifications")
	if configs == nil || n == nil {
		return nil, fmt.Errorf("the values have no configs or notifications")
	}
	notifications := map[string]string{}
	for _, section := range []string{"notifiers", "triggers", "templates"} {
		for k, v := range stringMap(n[section]) {
			notifications[k] = v
		}
	}
	if url, _ := n["argocdUrl"].(string); url != "" {
		notifications["context"] = "argocdUrl: " + url + "\n"
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	secret := map[string]string{"server.secretkey": hex.EncodeToString(key)}
	if gh, _ := nested(configs, "secret")["githubSecret"].(string); gh != "" {
		secret["webhook.github.secret"] = gh
	}
	if hash, _ := nested(configs, "secret")["argocdServerAdminPassword"].(string); hash != "" {
		secret["admin.password"] = hash
	}
	for k, v := range stringMap(nested(configs, "secret", "extra")) {
		secret[k] = v
	}
	return &ArgoCDConfig{
		ConfigMaps: map[string]map[string]string{
			"argocd-cm":               stringMap(configs["cm"]),
			"argocd-cmd-params-cm":    stringMap(configs["params"]),
			"argocd-rbac-cm":          stringMap(configs["rbac"]),
			"argocd-notifications-cm": notifications,
		},
		Secret: secret,
	}, nil
}

// Apply writes the ConfigMaps, argocd-secret and the known hosts.
func (c *ArgoCDConfig) Apply(kube kubernetes.Interface, knownHosts string) error {
	ctx := context.Background()
	c.ConfigMaps["argocd-ssh-known-hosts-cm"] = map[string]string{"ssh_known_hosts": knownHosts + "\n"}
	for name, data := range c.ConfigMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ArgoCDNamespace, Labels: PartOfArgoCD}, Data: data}
		if _, err := kube.CoreV1().ConfigMaps(ArgoCDNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	data := map[string][]byte{}
	for k, v := range c.Secret {
		data[k] = []byte(v)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: ArgoCDNamespace, Labels: PartOfArgoCD}, Data: data}
	if _, err := kube.CoreV1().Secrets(ArgoCDNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("argocd-secret: %w", err)
	}
	return nil
}
