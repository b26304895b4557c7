package live

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
)

const argocdNamespace = kit.ArgoCDNamespace

// argocd is Argo CD's components, each the multi-call binary under the
// component's name, outside a container, on loopback ports.
type argocd struct {
	procs   []*kit.Process
	dir     string
	repo    string // repo-server address
	webhook string // argocd-server's /api/webhook URL
	api     string // argocd-server's base URL
	redis   *redisServer
}

// redisServer is Argo CD's Redis: miniredis, the in-process Redis that
// Argo CD's own unit tests run its cache against, on a loopback port.
// miniredis expires keys only when told that time has passed; a clock
// tells it as time passes, so cache entries expire as in Redis.
type redisServer struct {
	*miniredis.Miniredis
	stop, stopped chan struct{}
}

func startRedis() (*redisServer, error) {
	r := &redisServer{Miniredis: miniredis.NewMiniRedis(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := r.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("redis (miniredis): %w", err)
	}
	go func() {
		defer close(r.stopped)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-r.stop:
				return
			case now := <-tick.C:
				r.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return r, nil
}

func (r *redisServer) Close() {
	close(r.stop)
	<-r.stopped
	r.Miniredis.Close()
}

func (a *argocd) stop() {
	if a == nil {
		return
	}
	kit.StopAll(a.procs)
	if a.redis != nil {
		a.redis.Close()
	}
}

// logs is the end of every component's log, for a failed assertion.
func (a *argocd) logs() string {
	return kit.Tails("", a.procs...)
}

// startArgoCD starts Redis, then the repo server, the application
// controller, the ApplicationSet controller, the notifications controller
// and the API server (for the webhook), against the hub's API server.
func startArgoCD(dir, bin, hubKubeconfig, kustomizeDir, knownHosts string) (*argocd, error) {
	a := &argocd{dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for _, name := range []string{"repo", "repo-metrics", "controller-metrics", "appset-metrics", "appset-probe",
		"notifications-metrics", "server", "server-metrics"} {
		p, err := kit.FreePort()
		if err != nil {
			return nil, err
		}
		ports[name] = p
	}
	var err error
	if a.redis, err = startRedis(); err != nil {
		return nil, err
	}
	redis := a.redis.Addr()
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
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{home, gnupg, sshData, tlsData, static, tmp} {
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
		// The repo server's clones (os.TempDir()/_argocd-repo) and its
		// askpass socket (/tmp/reposerver-ask-pass.sock unless set) are
		// this run's own: another user's or run's left in /tmp would stop
		// it ("bind: address already in use").
		"TMPDIR=" + tmp, "ARGOCD_ASK_PASS_SOCK=" + filepath.Join(dir, "ask-pass.sock"),
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
	a.api = fmt.Sprintf("http://127.0.0.1:%d", ports["server"])
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
