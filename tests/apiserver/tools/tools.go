// Package tools is the list of servers the test tiers run, each built from
// the Go module proxy by a wrapper module in a folder beside this file (its
// own go.mod pins the version), and the cache that keeps them between runs.
// `make tier-tools` builds them before the tiers' tests start, saying what
// it builds and how long it took; a tier that finds a binary missing builds
// it the same way.
package tools

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Versions the wrapper modules pin (TestVersionsAreTheWrappersPins).
const (
	etcdVersion       = "v3.5.21"
	kubernetesVersion = "v1.33.0"
	kwokVersion       = "v0.7.0"
	argocdVersion     = "v3.3.5"
)

// Tool is one server binary a tier runs.
type Tool struct {
	Name    string
	Version string
	// Module is the wrapper module's folder beside this file.
	Module string
	// Package is what `go build` builds in that module.
	Package string
	LDFlags string
	// FirstBuild is how long its first build took on two cores with an
	// empty Go build cache, the tools before it in All already built
	// (measured with `make tier-tools`; README: Development).
	FirstBuild time.Duration
	// Tiers names the tiers that run it.
	Tiers []string
}

// File is the cached binary's name: it carries the version, so a new pin
// builds anew.
func (t Tool) File() string { return t.Name + "-" + t.Version }

// kubeLDFlags stamp the Kubernetes binaries with their version.
var kubeLDFlags = fmt.Sprintf("-X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33", kubernetesVersion)

// The tools, in the order `make tier-tools` builds them: the three
// Kubernetes servers share one wrapper module and most of their packages,
// so the second and third build faster.
var (
	Etcd = Tool{Name: "etcd", Version: etcdVersion, Module: "etcd", Package: "go.etcd.io/etcd/server/v3",
		FirstBuild: 62 * time.Second, Tiers: []string{"apiserver", "live"}}
	KubeAPIServer = Tool{Name: "kube-apiserver", Version: kubernetesVersion, Module: "kube-apiserver",
		Package: "k8s.io/kubernetes/cmd/kube-apiserver", LDFlags: kubeLDFlags,
		FirstBuild: 320 * time.Second, Tiers: []string{"apiserver", "live"}}
	KubeControllerManager = Tool{Name: "kube-controller-manager", Version: kubernetesVersion, Module: "kube-apiserver",
		Package: "k8s.io/kubernetes/cmd/kube-controller-manager", LDFlags: kubeLDFlags,
		FirstBuild: 105 * time.Second, Tiers: []string{"live"}}
	KubeScheduler = Tool{Name: "kube-scheduler", Version: kubernetesVersion, Module: "kube-apiserver",
		Package: "k8s.io/kubernetes/cmd/kube-scheduler", LDFlags: kubeLDFlags,
		FirstBuild: 13 * time.Second, Tiers: []string{"live"}}
	Kwok = Tool{Name: "kwok", Version: kwokVersion, Module: "kwok", Package: "sigs.k8s.io/kwok/cmd/kwok",
		FirstBuild: 123 * time.Second, Tiers: []string{"live"}}
	ArgoCD = Tool{Name: "argocd", Version: argocdVersion, Module: "argocd", Package: "github.com/argoproj/argo-cd/v3/cmd",
		FirstBuild: 348 * time.Second, Tiers: []string{"live"}}

	All = []Tool{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler, Kwok, ArgoCD}
)

// dir is the folder of this file, where the wrapper modules are.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// CacheDir keeps the built binaries between runs.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(base, "gitops-platform", "apiserver-tier")
	return cache, os.MkdirAll(cache, 0o755)
}

// Path is where the tool's binary is cached, and whether it is there.
func (t Tool) Path(cache string) (string, bool) {
	path := filepath.Join(cache, t.File())
	_, err := os.Stat(path)
	return path, err == nil
}

// Build returns the cached binary, building it first if it is missing.
// progress (nil: nothing) hears a line when a build starts, one a minute
// while it runs, and one when it ends, with the time it took.
func (t Tool) Build(cache string, progress io.Writer) (string, error) {
	if progress == nil {
		progress = io.Discard
	}
	path, ok := t.Path(cache)
	if ok {
		return path, nil
	}
	about := "under a minute"
	if m := int(t.FirstBuild.Round(time.Minute).Minutes()); m > 0 {
		about = fmt.Sprintf("about %d min", m)
	}
	fmt.Fprintf(progress, "tier-tools: %s %s: building (first run only, %s)\n", t.Name, t.Version, about)
	f, err := os.CreateTemp(cache, t.File()+".building-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // gone once renamed; left by a failed build otherwise
	args := []string{"build", "-trimpath", "-o", tmp}
	if t.LDFlags != "" {
		args = append(args, "-ldflags", t.LDFlags)
	}
	cmd := exec.Command("go", append(args, t.Package)...)
	cmd.Dir = filepath.Join(dir(), t.Module)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	start := time.Now()
	done, quiet := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(quiet)
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(progress, "tier-tools: %s %s: still building (%s)\n", t.Name, t.Version, time.Since(start).Round(time.Second))
			}
		}
	}()
	out, err := cmd.CombinedOutput()
	close(done)
	<-quiet
	if err != nil {
		return "", fmt.Errorf("build %s %s: %w\n%s", t.Name, t.Version, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "tier-tools: %s %s: built in %s\n", t.Name, t.Version, time.Since(start).Round(time.Second))
	return path, nil
}
