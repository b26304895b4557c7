package apiserver

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
)

// projectRoot is where Pulumi.yaml and the render command are.
var projectRoot = filepath.Join("..", "..")

// stacks are the project's stacks, the hub first.
var stacks = kit.Stacks

// CRD sources, from the Go module cache.
var crdModules = []kit.CRDSource{
	{Module: "github.com/argoproj/argo-cd/v3@v3.3.5", Dir: "manifests/crds"},
	{Module: "github.com/prometheus-operator/prometheus-operator@v0.85.0", Dir: "example/prometheus-operator-crd"},
}

// The tier's shared state, set up once by TestMain.
var (
	// running is the cluster to stop, shared with the signal handler.
	running   atomic.Pointer[kit.Cluster]
	srv       *kit.Cluster
	renderDir string // <renderDir>/<stack> per stack
	kustomize string
	dyn       dynamic.Interface
	kube      kubernetes.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	applier   *kit.Applier
)

func TestMain(m *testing.M) {
	os.Exit(kit.Main(m, "apiserver-tier", false, setup, func() { running.Load().Stop() }))
}

func setup(tmp string) error {
	cache, err := tools.CacheDir()
	if err != nil {
		return err
	}
	if kustomize, err = kit.Kustomize(projectRoot); err != nil {
		return err
	}
	// Build the render first (minutes on a cold build cache), so the
	// servers only run while they are used.
	renderBin, err := kit.BuildRender(projectRoot, tmp)
	if err != nil {
		return err
	}
	srv, err = kit.StartCluster(cache, filepath.Join(tmp, "cluster"), "apiserver-tier")
	if err != nil {
		return err
	}
	running.Store(srv)
	renderDir = filepath.Join(tmp, "render")
	if err := renderStacks(tmp, renderBin, srv.CAPEM); err != nil {
		return err
	}
	if dyn, err = dynamic.NewForConfig(srv.Config); err != nil {
		return err
	}
	if kube, err = kubernetes.NewForConfig(srv.Config); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(srv.Config)
	if err != nil {
		return err
	}
	mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	applier = &kit.Applier{Dyn: dyn, Mapper: mapper}
	return applier.InstallCRDs(crdModules)
}

func apply(o *unstructured.Unstructured) error { return applier.Apply(o) }

func readObjects(path string) ([]*unstructured.Unstructured, error) { return kit.ReadObjects(path) }

func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) { return kit.DecodeObjects(b) }

// slackToken is a secure: value as `pulumi config set --secret` writes it;
// the render cannot decrypt it, so it stays "[secret]", but the hub then
// has a Slack credential and every Application subscribes.
const slackToken = "  gitops-platform:slackToken:\n    secure: v1:ZTJlLXRpZXI=\n"

// kubeconfigFor gives every stack's kube context a CA, as minikube's
// kubeconfig does, so the cluster Secrets carry real base64 caData (Argo CD
// decodes it) instead of the render's placeholder.
func kubeconfigFor(path string, caPEM []byte) error {
	ca := base64.StdEncoding.EncodeToString(caPEM)
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	for _, s := range stacks {
		fmt.Fprintf(&b, "- name: %s\n  cluster:\n    server: https://127.0.0.1:8443\n    certificate-authority-data: %s\n", s, ca)
	}
	b.WriteString("contexts:\n")
	for _, s := range stacks {
		fmt.Fprintf(&b, "- name: %s\n  context: {cluster: %s, user: %s}\n", s, s, s)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// renderStacks renders every stack
// of a copy of the project whose hub has a Slack token, reading the CA
// from a kubeconfig as pulumi up would, with the values behind [secret]
// (placeholders only: nothing is decrypted).
func renderStacks(tmp, bin string, caPEM []byte) error {
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := kubeconfigFor(kubeconfig, caPEM); err != nil {
		return err
	}
	project := filepath.Join(tmp, "project")
	if err := kit.CopyProject(projectRoot, project, slackToken); err != nil {
		return err
	}
	return kit.RenderStacks(bin, project, kubeconfig, renderDir)
}

// renderedObjects returns one stack's Kubernetes objects as the render
// wrote them, namespaces first (others live in them), then by file name.
func renderedObjects(stack string) (map[string]*unstructured.Unstructured, []string, error) {
	files, err := filepath.Glob(filepath.Join(renderDir, stack, "kubernetes", "*.yaml"))
	if err != nil {
		return nil, nil, err
	}
	objs := map[string]*unstructured.Unstructured{}
	for _, f := range files {
		inFile, err := readObjects(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		if len(inFile) != 1 {
			return nil, nil, fmt.Errorf("%s: %d objects, want 1", f, len(inFile))
		}
		objs[filepath.Base(f)] = inFile[0]
	}
	names := make([]string, 0, len(objs))
	for n := range objs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ni, nj := strings.HasPrefix(names[i], "namespace-"), strings.HasPrefix(names[j], "namespace-")
		if ni != nj {
			return ni
		}
		return names[i] < names[j]
	})
	return objs, names, nil
}

// rejectedByServer is true for an error the API server answered with (not
// a client-side failure), naming the field at fault.
func rejectedByServer(err error, field string) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && strings.Contains(status.Status().Message, field)
}
