package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager, as the platform's.
const FieldManager = "gitops-platform"

// CRDSource is a directory of CRDs in a module of the module cache.
type CRDSource struct{ Module, Dir string }

// Applier applies objects server-side to one API server.
type Applier struct {
	Dyn    dynamic.Interface
	Mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier is an Applier for the API server of config.
func NewApplier(config *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	return &Applier{Dyn: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// ModuleDir finds a module in the module cache, downloading it if needed.
func ModuleDir(module string) (string, error) {
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

// InstallCRDs applies the CRDs of the sources server-side (Argo CD's and
// prometheus-operator's are too large for a client-side apply's
// annotation) and waits until each is Established.
func (a *Applier) InstallCRDs(sources []CRDSource) error {
	var names []string
	for _, src := range sources {
		dir, err := ModuleDir(src.Module)
		if err != nil {
			return err
		}
		files, err := filepath.Glob(filepath.Join(dir, src.Dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			objs, err := ReadObjects(f)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				if err := a.Apply(o); err != nil {
					return fmt.Errorf("CRD %s: %w", o.GetName(), err)
				}
				names = append(names, o.GetName())
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no CRD found in %v", sources)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range names {
		for {
			o, err := a.Dyn.Resource(crds).Get(context.Background(), n, metav1.GetOptions{})
			if err == nil && Established(o) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not Established after 60s (%v)", n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	a.Mapper.Reset()
	return nil
}

// Established reports whether a CRD is served.
func Established(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// ReadObjects reads every object of a YAML file (one or many documents).
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeObjects(b)
}

// DecodeObjects decodes every object of YAML documents.
func DecodeObjects(b []byte) ([]*unstructured.Unstructured, error) {
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

// Apply sends one object with server-side apply, as the platform's field
// manager; the mapper learns new kinds (CRDs) on a miss.
func (a *Applier) Apply(o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mapping, err := a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.Mapper.Reset()
		mapping, err = a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return err
	}
	var r dynamic.ResourceInterface = a.Dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		r = a.Dyn.Resource(mapping.Resource).Namespace(ns)
	}
	_, err = r.Apply(context.Background(), o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}

// Kustomize is the project's pinned kustomize (make tools builds it).
func Kustomize(projectRoot string) (string, error) {
	path, err := filepath.Abs(filepath.Join(projectRoot, "bin", "kustomize"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is missing: run `make tools` in the project root", path)
	}
	return path, nil
}

// BuildRender builds the project's render command into dir.
func BuildRender(projectRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "render-bin")
	build := exec.Command("go", "build", "-o", bin, "./cmd/render")
	build.Dir = projectRoot
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the render: %w\n%s", err, out)
	}
	return bin, nil
}

// Stacks are the project's stacks, the hub first.
var Stacks = []string{"dev", "staging", "prod"}

// CopyProject copies Pulumi.yaml and the stack files into dst, with
// hubConfig (stack-file lines under config:) added to the hub's.
func CopyProject(projectRoot, dst, hubConfig string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	files := []string{"Pulumi.yaml"}
	for _, s := range Stacks {
		files = append(files, "Pulumi."+s+".yaml")
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(projectRoot, f))
		if err != nil {
			return err
		}
		if f == "Pulumi.dev.yaml" {
			b = append(b, hubConfig...)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RenderStacks renders every stack of the project in dir into
// outDir/<stack>, reading the clusters' CA from kubeconfig as pulumi up
// would, with the values behind [secret] (placeholders only: a secure:
// value is never decrypted).
func RenderStacks(bin, dir, kubeconfig, outDir string) error {
	for _, s := range Stacks {
		if err := RenderStack(bin, dir, kubeconfig, s, filepath.Join(outDir, s)); err != nil {
			return err
		}
	}
	return nil
}

// RenderStack renders one stack into out, with the values behind [secret];
// without a kubeconfig the clusters' CA is a placeholder.
func RenderStack(bin, dir, kubeconfig, stack, out string) error {
	args := []string{"-stack", stack, "-out", out, "-project", dir, "-show-secrets"}
	if kubeconfig != "" {
		args = append(args, "-kubeconfig", kubeconfig)
	}
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("render %s: %w\n%s", stack, err, b)
	}
	return nil
}
