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
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
)

// projectRoot is where Pulumi.yaml and the render command are.
var projectRoot = filepath.Join("..", "..", "..")

// stacks are the project's stacks, the hub first.
var stacks = kit.Stacks

// The tier's shared state, set up once by TestMain.
var (
	envs      = map[string]*env{}
	argo      *argocd
	git       *gitServer
	slack     *receiver
	renderDir string
	// webhookSecret is what Argo CD checks the gitops repo's pushes with.
	webhookSecret string
	kustomize     string
	// stopAll stops every process, once, from the tests' end or a signal.
	stopAll = sync.OnceFunc(func() {
		argo.stop()
		git.stop()
		for i := len(stacks) - 1; i >= 0; i-- {
			envs[stacks[i]].stop()
		}
	})
)

func TestMain(m *testing.M) {
	// LIVE_KEEP=1 keeps every log under /tmp/gitops-platform-live-tier-*.
	os.Exit(kit.Main(m, "live-tier", os.Getenv("LIVE_KEEP") != "", setup, stopAll))
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
	cache, err := tools.CacheDir()
	if err != nil {
		return err
	}
	if kustomize, err = kit.Kustomize(projectRoot); err != nil {
		return err
	}
	for _, tool := range []string{"git", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: the tier runs git, and git's ssh client (Debian's git and openssh-client)", tool)
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
