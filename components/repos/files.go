package repos

import (
	"bytes"
	"embed"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/repofile"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates
var templates embed.FS

// overlayTemplate is rendered once per environment, by that environment's stack.
const overlayTemplate = "templates/gitops/manifests/overlay/kustomization.yaml.tmpl"

// seedData is what the repos' first content is rendered from.
type seedData struct {
	Owner      string
	SourceRepo string
	GitopsRepo string
	AppName    string
	// PullSecret is the image pull secret the app's Deployment references.
	PullSecret string
	// Registry is where the CI pushes: RegistryECR or RegistryGHCR.
	Registry string
}

// overlayData is what one environment's overlay is rendered from.
type overlayData struct {
	Environment     string
	AppName         string
	AppNamespace    string
	Replicas        int
	SyncMode        string
	ImageRepository string
	ImageTag        string
}

// File is one file committed to a repo.
type File = repofile.File

// seedFiles renders the first content of one repo ("source" or "gitops"), in
// path order. The per-environment overlays are not among them.
func seedFiles(kind string, data seedData) ([]File, error) {
	root := path.Join("templates", kind)
	var files []File
	err := fs.WalkDir(templates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || p == overlayTemplate || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		content, err := render(p, data)
		if err != nil {
			return err
		}
		files = append(files, File{Path: repoPath(strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")), Content: content})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s repo content: %w", kind, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s repo content: no templates under %s", kind, root)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// dotPaths are templates stored without their leading dot, which go:embed
// would skip: a file, or a directory prefix.
var dotPaths = map[string]string{"dockerignore": ".dockerignore", "github/": ".github/"}

func repoPath(p string) string {
	for stored, real := range dotPaths {
		if p == stored || (strings.HasSuffix(stored, "/") && strings.HasPrefix(p, stored)) {
			return real + strings.TrimPrefix(p, stored)
		}
	}
	return p
}

// delims are the template delimiters of a file: GitHub Actions files, whose own ${{ }} expressions
// must pass through untouched.
func delims(name string) (string, string) {
	if strings.Contains(name, "/github/") {
		return "[[", "]]"
	}
	return "{{", "}}"
}

// overlayPath is where an environment's overlay lives in the gitops repo; the
// ApplicationSets read manifests/<env>.
func overlayPath(env string) string { return "manifests/" + env + "/kustomization.yaml" }

// renderOverlay renders one environment's kustomization.
func renderOverlay(data overlayData) (string, error) {
	return render(overlayTemplate, data)
}

func render(name string, data any) (string, error) {
	left, right := delims(name)
	t, err := template.New(path.Base(name)).Delims(left, right).Option("missingkey=error").ParseFS(templates, name)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return b.String(), nil
}
