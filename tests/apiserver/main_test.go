package apiserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// projectRoot is where Pulumi.yaml and the render command are.
var projectRoot = filepath.Join("..", "..")

// stacks are the project's stacks, the hub first.
var stacks = []string{"dev", "staging", "prod"}

// CRD sources, from the Go module cache.
var crdModules = []struct{ module, dir string }{
	{"github.com/argoproj/argo-cd/v3@v3.3.5", "manifests/crds"},
	{"github.com/prometheus-operator/prometheus-operator@v0.85.0", "example/prometheus-operator-crd"},
}

// The tier's shared state, set up once by TestMain.
var (
	// running is the cluster to stop, shared with the signal handler.
	running   atomic.Pointer[cluster]
	srv       *cluster
	renderDir string // <renderDir>/<stack> per stack
	kustomize string
	dyn       dynamic.Interface
	kube      kubernetes.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
)

const fieldManager = "gitops-platform"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "gitops-platform-apiserver-tier-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		running.Load().stop() // whatever happens, the servers go with the tests
		os.RemoveAll(tmp)
		os.Exit(2)
	}()
	err = setup(tmp)
	defer running.Load().stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiserver tier setup:", err)
		return 1
	}
	return m.Run()
}

func setup(tmp string) error {
	cache, err := cacheDir()
	if err != nil {
		return err
	}
	if kustomize, err = filepath.Abs(filepath.Join(projectRoot, "bin", "kustomize")); err != nil {
		return err
	}
	if _, err := os.Stat(kustomize); err != nil {
		return fmt.Errorf("%s is missing: run `make tools` in the project root", kustomize)
	}
	// Build the render first (minutes on a cold build cache), so the
	// servers only run while they are used.
	renderBin, err := buildRender(tmp)
	if err != nil {
		return err
	}
	srv, err = startCluster(cache, filepath.Join(tmp, "cluster"))
	if err != nil {
		return err
	}
	running.Store(srv)
	renderDir = filepath.Join(tmp, "render")
	if err := renderStacks(tmp, renderBin, srv.caPEM); err != nil {
		return err
	}
	if dyn, err = dynamic.NewForConfig(srv.config); err != nil {
		return err
	}
	if kube, err = kubernetes.NewForConfig(srv.config); err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(srv.config)
	if err != nil {
		return err
	}
	mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return installCRDs()
}

// slackToken is a secure: value as `pulumi config set --secret` writes it;
// the render cannot decrypt it, so it stays "[secret]", but the hub then
// has a Slack credential and every Application subscribes.
const slackToken = "  gitops-platform:slackToken:\n    secure: v1:ZTJlLXRpZXI=\n"

// buildRender builds the project's render command.
func buildRender(tmp string) (string, error) {
	bin := filepath.Join(tmp, "render-bin")
	build := exec.Command("go", "build", "-o", bin, "./cmd/render")
	build.Dir = projectRoot
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the render: %w\n%s", err, out)
	}
	return bin, nil
}

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
	if err := os.MkdirAll(project, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"} {
		b, err := os.ReadFile(filepath.Join(projectRoot, f))
		if err != nil {
			return err
		}
		if f == "Pulumi.dev.yaml" {
			b = append(b, slackToken...)
		}
		if err := os.WriteFile(filepath.Join(project, f), b, 0o644); err != nil {
			return err
		}
	}
	for _, s := range stacks {
		cmd := exec.Command(bin, "-stack", s, "-out", filepath.Join(renderDir, s), "-project", project, "-kubeconfig", kubeconfig, "-show-secrets")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("render %s: %w\n%s", s, err, out)
		}
	}
	return nil
}

// moduleDir finds a module in the module cache, downloading it if needed.
func moduleDir(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}

// installCRDs applies Argo CD's and prometheus-operator's CRDs server-side
// (they are too large for a client-side apply's annotation) and waits until
// each is Established.
func installCRDs() error {
	var names []string
	for _, src := range crdModules {
		dir, err := moduleDir(src.module)
		if err != nil {
			return err
		}
		files, err := filepath.Glob(filepath.Join(dir, src.dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			objs, err := readObjects(f)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				if err := apply(o); err != nil {
					return fmt.Errorf("CRD %s: %w", o.GetName(), err)
				}
				names = append(names, o.GetName())
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no CRD found in %v", crdModules)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range names {
		for {
			o, err := dyn.Resource(crds).Get(context.Background(), n, metav1.GetOptions{})
			if err == nil && established(o) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not Established after 60s (%v)", n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	mapper.Reset()
	return nil
}

func established(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// readObjects reads every object of a YAML file (one or many documents).
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeObjects(b)
}

func decodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(b, []byte("\n---")) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// apply sends one object with server-side apply, as the platform's field
// manager; the mapper learns new kinds (CRDs) on a miss.
func apply(o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset()
		mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return err
	}
	var r dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		r = dyn.Resource(mapping.Resource).Namespace(ns)
	}
	_, err = r.Apply(context.Background(), o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
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
