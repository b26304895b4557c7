package offline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/urn"
	"gopkg.in/yaml.v3"
)

// ComputedValue stands in for a value known only after deployment.
const ComputedValue = "[computed]"

// UnknownValue stands in, in a preview's render, for a value that
// `pulumi preview` does not know (secret or not).
const UnknownValue = "[unknown]"

const repositoryFileType = "github:index/repositoryFile:RepositoryFile"

// Ref names a resource by type and name.
type Ref struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Rendered is one resource as resources.json shows it.
type Rendered struct {
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	Parent    *Ref           `json:"parent"`
	Inputs    map[string]any `json:"inputs"`
	DependsOn []Ref          `json:"dependsOn"`
	Protect   bool           `json:"protect"`
	Provider  *Ref           `json:"provider"`
	// IgnoreChanges marks what Git, not Pulumi, owns after the first commit.
	IgnoreChanges []string `json:"ignoreChanges,omitempty"`
	Read          bool     `json:"read,omitempty"`
}

func refOf(u string) *Ref {
	if u == "" {
		return nil
	}
	// A provider reference is "urn::id"; a URN itself has four "::" parts.
	if parts := strings.Split(u, "::"); len(parts) > 4 {
		u = strings.Join(parts[:4], "::")
	}
	x := urn.URN(u)
	if !x.IsValid() {
		return &Ref{Name: u}
	}
	if x.QualifiedType() == resource.RootStackType {
		return nil
	}
	return &Ref{Type: string(x.Type()), Name: x.Name()}
}

// Render turns the recorded resources into what resources.json holds.
func (r *Result) Render() []Rendered {
	out := make([]Rendered, 0, len(r.Resources))
	for _, res := range r.Resources {
		deps := []Ref{}
		for _, d := range res.Dependencies {
			if ref := refOf(d); ref != nil {
				deps = append(deps, *ref)
			}
		}
		out = append(out, Rendered{
			Type:          res.Type,
			Name:          res.Name,
			Parent:        refOf(res.Parent),
			Inputs:        r.plain(res.Inputs),
			DependsOn:     deps,
			Protect:       res.Protect,
			Provider:      refOf(res.Provider),
			IgnoreChanges: res.IgnoreChanges,
			Read:          res.Read,
		})
	}
	return out
}

// Plain turns property values into plain JSON-able values, with secrets as
// "[secret]" and values known only after deployment as "[computed]".
func Plain(m resource.PropertyMap) map[string]any { return plainer{unknown: ComputedValue}.m(m) }

// plain is Plain, with the values behind "[secret]" under ShowSecrets and
// unknowns as "[unknown]" in a preview.
func (r *Result) plain(m resource.PropertyMap) map[string]any {
	p := plainer{reveal: r.ShowSecrets, unknown: ComputedValue}
	if r.Stack.Preview {
		p.unknown = UnknownValue
	}
	return p.m(m)
}

// plainer turns property values into plain ones.
type plainer struct {
	reveal  bool   // write the values behind secrets
	unknown string // what an unknown value is written as
}

func (p plainer) m(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if strings.HasPrefix(string(k), "__") {
			continue // SDK bookkeeping such as __defaults
		}
		out[string(k)] = p.value(v, false)
	}
	return out
}

func (p plainer) value(v resource.PropertyValue, secret bool) any {
	switch {
	case v.IsSecret():
		return p.value(v.SecretValue().Element, !p.reveal)
	case v.IsComputed():
		return p.unknown
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return p.unknown
		}
		return p.value(o.Element, secret || (o.Secret && !p.reveal))
	case v.IsObject():
		// A secret object keeps its keys, so a reader sees its shape.
		obj := map[string]any{}
		for k, e := range v.ObjectValue() {
			obj[string(k)] = p.value(e, secret)
		}
		return obj
	case secret:
		return SecretPlaceholder
	case v.IsArray():
		arr := []any{}
		for _, e := range v.ArrayValue() {
			arr = append(arr, p.value(e, false))
		}
		return arr
	case v.IsNull():
		return nil
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsAsset(), v.IsArchive():
		return "[asset]"
	}
	return v.V
}

// KubernetesObject is one Kubernetes object the program creates.
type KubernetesObject struct {
	File     string
	Resource *Resource
	Object   map[string]any
}

// KubernetesObjects returns every Kubernetes object, in registration order.
func (r *Result) KubernetesObjects() []KubernetesObject {
	var out []KubernetesObject
	for _, res := range r.Resources {
		if !res.Custom || !strings.HasPrefix(res.Type, "kubernetes:") {
			continue
		}
		obj := r.plain(res.Inputs)
		kind, _ := obj["kind"].(string)
		if kind == "" || obj["apiVersion"] == nil {
			continue // not an object of the API (a Helm release, say)
		}
		out = append(out, KubernetesObject{
			File:     strings.ToLower(kind) + "-" + res.Name + ".yaml",
			Resource: res,
			Object:   obj,
		})
	}
	return out
}

// RepoFile is one file the program commits to a GitHub repo.
type RepoFile struct {
	Repo, Path, Content string
}

// RepoFiles returns every file committed to a repo, in registration order.
func (r *Result) RepoFiles() ([]RepoFile, error) {
	var out []RepoFile
	for _, res := range r.Resources {
		if res.Type != repositoryFileType {
			continue
		}
		in := r.plain(res.Inputs)
		repo, _ := in["repository"].(string)
		file, _ := in["file"].(string)
		content, _ := in["content"].(string)
		if repo == "" || file == "" {
			return nil, fmt.Errorf("repository file %s: repository or path unknown", res.Name)
		}
		out = append(out, RepoFile{Repo: repo, Path: file, Content: content})
	}
	return out, nil
}

// Write writes the render into dir: resources.json, kubernetes/ and repos/.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, sub := range []string{"kubernetes", "repos"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(r.Render(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "resources.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	for _, obj := range r.KubernetesObjects() {
		y, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", obj.File, err)
		}
		header := fmt.Sprintf("# %s %s, provider %s\n", obj.Resource.Type, obj.Resource.Name, providerName(obj.Resource))
		if err := writeFile(filepath.Join(dir, "kubernetes", obj.File), header+string(y)); err != nil {
			return err
		}
	}
	files, err := r.RepoFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		clean := path.Clean(f.Path)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(f.Repo, "/") || strings.HasPrefix(f.Repo, ".") {
			return fmt.Errorf("repository file %s/%s: path leaves the render directory", f.Repo, f.Path)
		}
		if err := writeFile(filepath.Join(dir, "repos", f.Repo, filepath.FromSlash(clean)), f.Content); err != nil {
			return err
		}
	}
	return nil
}

func providerName(res *Resource) string {
	if ref := refOf(res.Provider); ref != nil {
		return ref.Name
	}
	return "default"
}

func writeFile(p, content string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return errors.New(p + ": two resources render to the same file")
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// Summary is a tree of resource counts by type, like `pulumi preview` prints.
func (r *Result) Summary() string {
	counts := map[string]int{}
	for _, res := range r.Resources {
		counts[res.Type]++
	}
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s: %d resources\n", r.Stack.Project, r.Stack.Name, len(r.Resources))
	for i, t := range types {
		branch := "├─"
		if i == len(types)-1 {
			branch = "└─"
		}
		fmt.Fprintf(&b, "  %s %-64s %3d\n", branch, t, counts[t])
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
