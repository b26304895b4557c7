// Package live is the live delivery tier: Argo CD v3.3.5's own controllers,
// configured as the program configures them, deliver the rendered
// platform to three real Kubernetes API servers (dev, the hub; staging and
// prod), with kube-controller-manager, kube-scheduler and kwok's simulated
// nodes. Only the Pods' containers are simulated.
package live

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
)

// projectRoot is where Pulumi.yaml and the render command are.
var projectRoot = filepath.Join("..", "..", "..")

// stacks are the project's stacks, the hub first.
var stacks = []string{"dev", "staging", "prod"}

// The tier's shared state, set up once by TestMain.
var (
	envs      = map[string]*env{}
	argo      *argocd
	git       *gitServer
	slack     *receiver
	renderDir string
	work      string // the tier's temporary directory
	// webhookSecret is what Argo CD checks the gitops repo's pushes with.
	webhookSecret string
	kustomize     string
	// stopAll stops every process, once, from the tests' end or a signal.
	stopAll = sync.OnceFunc(func() {
		argo.stop()
		if git != nil {
			git.sshd.Stop()
		}
		for i := len(stacks) - 1; i >= 0; i-- {
			envs[stacks[i]].stop()
		}
	})
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "gitops-platform-live-tier-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	work = tmp
	if os.Getenv("LIVE_KEEP") == "" { // LIVE_KEEP=1 keeps the logs for a look
		defer os.RemoveAll(tmp)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		stopAll()
		os.RemoveAll(tmp)
		os.Exit(2)
	}()
	defer stopAll()
	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "live tier setup:", err)
		return 1
	}
	return m.Run()
}

// receiver stands in for Slack's incoming webhook: it records every message.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	messages []string
}

func startReceiver() *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &body); err != nil || body.Text == "" {
			body.Text = "unreadable: " + string(b)
		}
		r.mu.Lock()
		r.messages = append(r.messages, body.Text)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	return r
}

// count is how many messages contain every part.
func (r *receiver) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.messages {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(m, p)
		}
		if all {
			n++
		}
	}
	return n
}

func (r *receiver) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

func setup(tmp string) error {
	cache, err := kit.CacheDir()
	if err != nil {
		return err
	}
	if kustomize, err = kit.Kustomize(projectRoot); err != nil {
		return err
	}
	for _, tool := range []string{"redis-server", "git", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: .ci/run installs Debian's redis-server and openssh-server", tool)
		}
	}
	// Everything is built before any server starts.
	bins, err := buildBinaries(cache)
	if err != nil {
		return err
	}
	renderBin, err := kit.BuildRender(projectRoot, tmp)
	if err != nil {
		return err
	}

	slack = startReceiver()
	for _, name := range stacks {
		e, err := startEnv(cache, tmp, name, bins)
		if err != nil {
			return err
		}
		envs[name] = e
	}
	renderDir = filepath.Join(tmp, "render")
	if err := renderStacks(tmp, renderBin); err != nil {
		return err
	}
	if err := installPlatform(tmp); err != nil {
		return err
	}
	if argo, err = startArgoCD(filepath.Join(tmp, "argocd"), bins.argocd, envs["dev"].argocdKubeconfig, filepath.Dir(kustomize), git.knownHosts); err != nil {
		return err
	}
	return nil
}
