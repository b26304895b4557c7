package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const argocdNamespace = "argocd"

// partOfArgoCD is the label without which Argo CD reads none of its
// ConfigMaps and Secrets ("configmap argocd-cm not found").
var partOfArgoCD = map[string]string{"app.kubernetes.io/part-of": "argocd"}

// argocdConfig is what the argo-cd chart (9.4.16) writes from the values
// the program gives it, with the chart's own key mapping: configs.cm →
// argocd-cm, configs.params → argocd-cmd-params-cm, configs.rbac →
// argocd-rbac-cm, configs.secret.githubSecret → argocd-secret's
// webhook.github.secret, notifications.notifiers/triggers/templates and
// argocdUrl → argocd-notifications-cm. The chart's own defaults beyond
// these keys are not reproduced.
type argocdConfig struct {
	configMaps map[string]map[string]string
	secret     map[string]string
}

// helmValues reads the values of the hub's argocd Helm release from the
// render's resources.json.
func helmValues(renderDir string) (map[string]any, error) {
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

func configFromValues(values map[string]any) (*argocdConfig, error) {
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
	return &argocdConfig{
		configMaps: map[string]map[string]string{
			"argocd-cm":               stringMap(configs["cm"]),
			"argocd-cmd-params-cm":    stringMap(configs["params"]),
			"argocd-rbac-cm":          stringMap(configs["rbac"]),
			"argocd-notifications-cm": notifications,
		},
		secret: secret,
	}, nil
}

// apply writes the ConfigMaps, argocd-secret and the known hosts.
func (c *argocdConfig) apply(kube kubernetes.Interface, knownHosts string) error {
	ctx := context.Background()
	c.configMaps["argocd-ssh-known-hosts-cm"] = map[string]string{"ssh_known_hosts": knownHosts + "\n"}
	for name, data := range c.configMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: argocdNamespace, Labels: partOfArgoCD}, Data: data}
		if _, err := kube.CoreV1().ConfigMaps(argocdNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: argocdNamespace, Labels: partOfArgoCD}, StringData: c.secret}
	if _, err := kube.CoreV1().Secrets(argocdNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("argocd-secret: %w", err)
	}
	return nil
}

// argocd is Argo CD's components, each the multi-call binary under the
// component's name, outside a container, on loopback ports.
type argocd struct {
	procs   []*kit.Process
	dir     string
	repo    string // repo-server address
	webhook string // argocd-server's /api/webhook URL
	redis   *kit.Process
}

func (a *argocd) stop() {
	if a == nil {
		return
	}
	for i := len(a.procs) - 1; i >= 0; i-- {
		a.procs[i].Stop()
	}
	a.redis.Stop()
}

// logs is the end of every component's log, for a failed assertion.
func (a *argocd) logs() string {
	var b strings.Builder
	for _, p := range append([]*kit.Process{a.redis}, a.procs...) {
		fmt.Fprintf(&b, "--- %s (exited: %v):\n%s\n", p.Name(), p.Exited(), p.Tail())
	}
	return b.String()
}

// startArgoCD starts redis, then the repo server, the application
// controller, the ApplicationSet controller, the notifications controller
// and the API server (for the webhook), against the hub's API server.
func startArgoCD(dir, bin, hubKubeconfig, kustomizeDir, knownHosts string) (*argocd, error) {
	a := &argocd{dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for _, name := range []string{"redis", "repo", "repo-metrics", "controller-metrics", "appset-metrics", "appset-probe",
		"notifications-metrics", "server", "server-metrics"} {
		p, err := kit.FreePort()
		if err != nil {
			return nil, err
		}
		ports[name] = p
	}
	redis := fmt.Sprintf("127.0.0.1:%d", ports["redis"])
	var err error
	if a.redis, err = kit.Start(dir, "redis", "redis-server", "--port", strconv.Itoa(ports["redis"]), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no"); err != nil {
		return nil, fmt.Errorf("redis-server (Debian's redis-server package): %w", err)
	}
	// Each component runs as the multi-call binary under its own name.
	link := func(name string) (string, error) {
		p := filepath.Join(dir, "bin", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		return p, os.Symlink(bin, p)
	}
	home := filepath.Join(dir, "home")
	gnupg := filepath.Join(dir, "gnupg")
	sshData := filepath.Join(dir, "ssh")
	tlsData := filepath.Join(dir, "tls")
	static := filepath.Join(dir, "static")
	for _, d := range []string{home, gnupg, sshData, tlsData, static} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// What the chart mounts from argocd-ssh-known-hosts-cm.
	if err := os.WriteFile(filepath.Join(sshData, "ssh_known_hosts"), []byte(knownHosts+"\n"), 0o600); err != nil {
		return nil, err
	}
	a.repo = fmt.Sprintf("127.0.0.1:%d", ports["repo"])
	env := []string{
		"HOME=" + home, "ARGOCD_GPG_ENABLED=false", "ARGOCD_GNUPGHOME=" + gnupg,
		"ARGOCD_SSH_DATA_PATH=" + sshData, "ARGOCD_TLS_DATA_PATH=" + tlsData,
		"PATH=" + kustomizeDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"KUBECONFIG=" + hubKubeconfig, "ARGOCD_NAMESPACE=" + argocdNamespace,
	}
	components := []struct {
		name string
		args []string
	}{
		{"argocd-repo-server", []string{"--port", strconv.Itoa(ports["repo"]), "--metrics-port", strconv.Itoa(ports["repo-metrics"]),
			"--redis", redis, "--disable-tls", "--loglevel", "info"}},
		{"argocd-application-controller", []string{"--kubeconfig", hubKubeconfig, "--namespace", argocdNamespace,
			"--redis", redis, "--repo-server", a.repo, "--repo-server-plaintext", "--metrics-port", strconv.Itoa(ports["controller-metrics"]),
			"--status-processors", "4", "--operation-processors", "4", "--self-heal-timeout-seconds", "2", "--loglevel", "info"}},
		{"argocd-applicationset-controller", []string{"--kubeconfig", hubKubeconfig, "--namespace", argocdNamespace,
			"--argocd-repo-server", a.repo, "--repo-server-plaintext",
			"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports["appset-metrics"]), "--probe-addr", fmt.Sprintf("127.0.0.1:%d", ports["appset-probe"]),
			"--loglevel", "info"}},
		{"argocd-notifications", []string{"--kubeconfig", hubKubeconfig, "--namespace", argocdNamespace,
			"--argocd-repo-server", a.repo, "--argocd-repo-server-plaintext", "--metrics-port", strconv.Itoa(ports["notifications-metrics"]),
			"--loglevel", "info"}},
		{"argocd-server", []string{"--kubeconfig", hubKubeconfig, "--namespace", argocdNamespace, "--insecure",
			"--port", strconv.Itoa(ports["server"]), "--metrics-port", strconv.Itoa(ports["server-metrics"]),
			"--redis", redis, "--repo-server", a.repo, "--repo-server-plaintext", "--staticassets", static,
			"--address", "127.0.0.1", "--loglevel", "info"}},
	}
	for _, c := range components {
		path, err := link(c.name)
		if err != nil {
			a.stop()
			return nil, err
		}
		p, err := kit.StartEnv(dir, c.name, path, env, c.args...)
		if err != nil {
			a.stop()
			return nil, err
		}
		a.procs = append(a.procs, p)
	}
	a.webhook = fmt.Sprintf("http://127.0.0.1:%d/api/webhook", ports["server"])
	time.Sleep(time.Second)
	for _, p := range a.procs {
		if p.Exited() {
			err := fmt.Errorf("%s exited at start:\n%s", p.Name(), p.Tail())
			a.stop()
			return nil, err
		}
	}
	return a, nil
}
