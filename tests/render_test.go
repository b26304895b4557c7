package tests

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden renders in testdata/golden")

func walkFiles(dir string, fn func(rel string, content []byte)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fn(filepath.ToSlash(rel), b)
		return nil
	})
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, walkFiles(dir, func(rel string, b []byte) { files[rel] = string(b) }))
	return files
}

// TestRenderGolden checks each stack's whole render (resources.json, the
// Kubernetes objects and the repos' files) against the reviewed golden copy
// in testdata/golden/<stack>. After an intended change:
//
//	go test ./tests -run TestRenderGolden -update
func TestRenderGolden(t *testing.T) {
	for _, env := range stacks {
		t.Run(env, func(t *testing.T) {
			out := t.TempDir()
			var stdout bytes.Buffer
			require.NoError(t, offline.Command([]string{"-stack", env, "-out", out, "-project", projectDir}, &stdout))
			assert.Contains(t, stdout.String(), "gitops-platform/"+env+":")
			golden := filepath.Join("testdata", "golden", env)
			if *update {
				require.NoError(t, os.RemoveAll(golden))
				require.NoError(t, os.CopyFS(golden, os.DirFS(out)))
			}
			want, got := readTree(t, golden), readTree(t, out)
			for name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("the render no longer writes %s; review and run with -update", name)
				}
			}
			for name, content := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("new file %s: review it and run with -update", name)
					continue
				}
				assert.Equal(t, want[name], content, "%s differs from the golden render; review and run with -update", name)
			}
		})
	}
}

// TestRenderWritesEveryObject checks the render's layout: one YAML file per
// Kubernetes object, and every repo file under repos/<repo>/<path>.
func TestRenderWritesEveryObject(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	out := t.TempDir()
	require.NoError(t, res.Write(out))
	tree := readTree(t, out)
	objects := res.KubernetesObjects()
	require.NotEmpty(t, objects)
	for _, o := range objects {
		assert.Contains(t, tree, "kubernetes/"+o.File)
	}
	files, err := res.RepoFiles()
	require.NoError(t, err)
	for _, f := range files {
		assert.Equal(t, f.Content, tree["repos/"+f.Repo+"/"+f.Path])
	}
	assert.Contains(t, tree, "repos/tech-seminar-gitops/manifests/base/deployment.yaml")
	assert.Contains(t, tree, "repos/tech-seminar-gitops/manifests/dev/kustomization.yaml")
	assert.Len(t, tree, 1+len(objects)+len(files), "resources.json, the objects and the repo files, nothing else")
}

// copyProject makes a project directory with Pulumi.yaml and the given stack files.
func copyProject(t *testing.T, stackFiles map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), b, 0o644))
	for name, content := range stackFiles {
		if content == "" {
			c, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+name+".yaml"))
			require.NoError(t, err)
			content = string(c)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), []byte(content), 0o644))
	}
	return dir
}

// TestRenderRefusesInvalidConfig checks that an invalid stack stops the
// render with the validation message and writes nothing.
func TestRenderRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, map[string]string{"bad": `config:
  gitops-platform:environment: dev
  gitops-platform:hub: true
  gitops-platform:kubeContext: dev
  gitops-platform:syncMode: always
  gitops-platform:replicas: 0
  gitops-platform:githubOwner: octo-org
  gitops-platform:argocdChartVersion: latest
`})
	out := filepath.Join(t.TempDir(), "render")
	var stdout bytes.Buffer
	err := offline.Command([]string{"-stack", "bad", "-out", out, "-project", dir}, &stdout)
	require.Error(t, err)
	for _, k := range []string{"gitops-platform:replicas", "gitops-platform:syncMode", "gitops-platform:argocdChartVersion"} {
		assert.Contains(t, err.Error(), k)
	}
	_, statErr := os.Stat(out)
	assert.True(t, os.IsNotExist(statErr), "an invalid stack must write nothing")
	assert.Empty(t, stdout.String())
}

// TestRenderSecureValues checks that an encrypted `secure:` value, which
// the render cannot decrypt, shows as [secret] and its ciphertext nowhere.
func TestRenderSecureValues(t *testing.T) {
	t.Parallel()
	const cipher = "v1:Zm9vYmFyYmF6cXV4"
	dev, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.dev.yaml"))
	require.NoError(t, err)
	dir := copyProject(t, map[string]string{
		"dev": string(dev) + "  gitops-platform:slackToken:\n    secure: " + cipher + "\n",
	})
	out := t.TempDir()
	require.NoError(t, offline.Command([]string{"-stack", "dev", "-out", out, "-project", dir}, &bytes.Buffer{}))
	assertNoStringInTree(t, out, cipher)
	secretYAML := readTree(t, out)["kubernetes/secret-argocd-notifications-secret.yaml"]
	assert.Contains(t, secretYAML, "slack-token: '[secret]'")

	// -show-secrets writes what stands behind [secret], but a secure: value
	// was never decrypted, so it stays masked.
	shown := t.TempDir()
	require.NoError(t, offline.Command([]string{"-stack", "dev", "-out", shown, "-project", dir, "-show-secrets"}, &bytes.Buffer{}))
	assertNoStringInTree(t, shown, cipher)
	tree := readTree(t, shown)
	assert.Contains(t, tree["kubernetes/secret-argocd-notifications-secret.yaml"], "slack-token: '[secret]'")
	assert.Contains(t, tree["kubernetes/secret-dev-registration.yaml"], "server: https://kubernetes.default.svc")
	assert.Contains(t, readTree(t, out)["kubernetes/secret-dev-registration.yaml"], "server: '[secret]'", "masked by default")
}

// TestRenderUsage checks that a render without a stack or output says how to call it.
func TestRenderUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"-stack", "dev"}, {"-out", "x"}, {"-stack", "dev", "-out", "x", "extra"}, {"-nope"}} {
		err := offline.Command(args, &bytes.Buffer{})
		require.Error(t, err, strings.Join(args, " "))
		assert.Contains(t, err.Error(), "usage: render -stack <name> -out <dir>")
	}
}

// TestRenderUnknownStack checks the message for a stack file that does not exist.
func TestRenderUnknownStack(t *testing.T) {
	t.Parallel()
	err := offline.Command([]string{"-stack", "qa", "-out", t.TempDir(), "-project", projectDir}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Pulumi.qa.yaml")
}

// TestRenderReadsAGivenKubeconfig checks -kubeconfig: the render then reads
// the CA as pulumi up would, and a context missing there stops it.
func TestRenderReadsAGivenKubeconfig(t *testing.T) {
	t.Parallel()
	kc := writeKubeconfig(t, true)
	var stdout bytes.Buffer
	require.NoError(t, offline.Command([]string{"-stack", "staging", "-out", t.TempDir(), "-project", projectDir, "-kubeconfig", kc}, &stdout))
	err := offline.Command([]string{"-stack", "prod", "-out", t.TempDir(), "-project", projectDir, "-kubeconfig", kc}, &stdout)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gitops-platform:kubeContext")
}
