package tests

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/appsets"
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/ciidentity"
	"github.com/gitops-platform/gitops-platform/components/clusters"
	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/components/pullsecret"
	"github.com/gitops-platform/gitops-platform/components/registry"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/gitops-platform/gitops-platform/"

// TestLayoutPointsDown reads every non-test import of the program's
// packages: components import no other component (what they share lives
// in components/internal or internal/) and nothing above them (infra,
// cmd, policy); internal/platform imports nothing of this project's.
func TestLayoutPointsDown(t *testing.T) {
	t.Parallel()
	imports := map[string][]string{} // package dir → project imports
	for _, root := range []string{"components", "internal", "infra", "policy"} {
		require.NoError(t, filepath.WalkDir(filepath.Join(projectDir, root), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(projectDir, filepath.Dir(path))
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, module) {
					imports[filepath.ToSlash(rel)] = append(imports[filepath.ToSlash(rel)], strings.TrimPrefix(p, module))
				}
			}
			return nil
		}))
	}
	require.NotEmpty(t, imports["components/image"], "the walk found the components")
	for pkg, deps := range imports {
		for _, dep := range deps {
			if strings.HasPrefix(pkg, "components/") {
				own := strings.Split(pkg, "/")[1]
				switch {
				case strings.HasPrefix(dep, "components/internal/"), strings.HasPrefix(dep, "internal/"):
				case strings.HasPrefix(dep, "components/"+own):
				default:
					t.Errorf("%s imports %s: a component imports only components/internal and internal", pkg, dep)
				}
			}
			if pkg == "internal/platform" {
				t.Errorf("internal/platform imports %s: it must import nothing of this project's", dep)
			}
		}
	}
	assert.Empty(t, imports["internal/platform"])
}

// TestComponentsRefuseNilArgs calls every component's constructor without
// args: each refuses with an error naming the component, before it
// touches the context.
func TestComponentsRefuseNilArgs(t *testing.T) {
	t.Parallel()
	const probe = "nil-args-probe"
	for name, call := range map[string]func() error{
		"applicationsets": func() error { _, err := appsets.New(nil, probe, nil); return err },
		"argocd":          func() error { _, err := argocd.New(nil, probe, nil); return err },
		"ci identity":     func() error { _, err := ciidentity.New(nil, probe, nil); return err },
		"cluster":         func() error { _, err := clusters.New(nil, probe, nil); return err },
		"image":           func() error { _, err := image.New(nil, probe, nil); return err },
		"monitoring":      func() error { _, err := monitoring.New(nil, probe, nil); return err },
		"pullsecret":      func() error { _, err := pullsecret.New(nil, probe, nil); return err },
		"registry":        func() error { _, err := registry.New(nil, probe, nil); return err },
		"repos":           func() error { _, err := repos.New(nil, probe, nil); return err },
		"overlay":         func() error { _, err := repos.NewOverlay(nil, probe, nil); return err },
		"workflow":        func() error { _, err := repos.NewWorkflow(nil, probe, nil); return err },
	} {
		err := call()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), probe, name)
	}
}
