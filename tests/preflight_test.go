package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTools puts stand-ins for pulumi, go and kubectl on a PATH of their
// own; kubectl lists the given contexts.
func fakeTools(t *testing.T, contexts string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"pulumi", "go", "docker"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	}
	kubectl := "#!/bin/sh\nprintf '" + contexts + "'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubectl"), []byte(kubectl), 0o755))
	return dir
}

func runPreflight(t *testing.T, env []string, stacks ...string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, append([]string{filepath.Join(projectDir, "scripts", "preflight")}, stacks...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPreflightNamesWhatIsMissing checks that the check before `make up`
// lists every missing tool, credential and kube context.
func TestPreflightNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	out, err := runPreflight(t, []string{"PATH=" + fakeTools(t, "dev\\n") + ":/usr/bin:/bin", "HOME=" + home}, "dev", "staging")
	require.Error(t, err)
	assert.Contains(t, out, "GITHUB_TOKEN is not set")
	assert.Contains(t, out, "no AWS credentials")
	assert.Contains(t, out, "PULUMI_CONFIG_PASSPHRASE")
	assert.Contains(t, out, "kube context 'staging' is not in your kubeconfig")
	assert.NotContains(t, out, "kube context 'dev'", "dev's context exists")
	assert.NotContains(t, out, "is not on PATH")
	assert.NotContains(t, out, "Docker daemon", "docker info answers")
}

// TestPreflightNeedsDockerForTheFirstImage checks that the hub's first image
// needs a Docker daemon, and says how to do without one.
func TestPreflightNeedsDockerForTheFirstImage(t *testing.T) {
	t.Parallel()
	tools := fakeTools(t, "dev\\n")
	require.NoError(t, os.WriteFile(filepath.Join(tools, "docker"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	out, err := runPreflight(t, []string{"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + t.TempDir(),
		"GITHUB_TOKEN=x", "AWS_PROFILE=lab", "PULUMI_CONFIG_PASSPHRASE=x"}, "dev")
	require.Error(t, err)
	assert.Contains(t, out, "no Docker daemon answers")
	assert.Contains(t, out, "bootstrapImage: false")
}

// TestPreflightReady checks that preflight passes when everything is there.
func TestPreflightReady(t *testing.T) {
	t.Parallel()
	out, err := runPreflight(t, []string{
		"PATH=" + fakeTools(t, "dev\\nstaging\\nprod\\n") + ":/usr/bin:/bin", "HOME=" + t.TempDir(),
		"GITHUB_TOKEN=x", "AWS_PROFILE=lab", "PULUMI_CONFIG_PASSPHRASE=x",
	})
	require.NoError(t, err, out)
	assert.Contains(t, out, "preflight: ready for dev staging prod")
}

// TestPreflightChecksDeleteRepoScope checks that a hub set to delete its
// repos on destroy needs a token with the delete_repo scope, read from the
// X-OAuth-Scopes header GitHub answers with, and that the check names what
// is missing; a token with the scope passes.
func TestPreflightChecksDeleteRepoScope(t *testing.T) {
	t.Parallel()
	project := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(project, "scripts"), 0o755))
	script, err := os.ReadFile(filepath.Join(projectDir, "scripts", "preflight"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(project, "scripts", "preflight"), script, 0o755))
	dev, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.dev.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.dev.yaml"),
		append(dev, []byte("  gitops-platform:reposOnDestroy: delete\n")...), 0o644))

	for scopes, wantMissing := range map[string]string{
		"repo, workflow":              "GITHUB_TOKEN lacks the delete_repo scope (it has: repo, workflow)",
		"repo, workflow, delete_repo": "",
		"":                            "reports no scopes",
	} {
		tools := fakeTools(t, "dev\\n")
		curl := "#!/bin/sh\nprintf 'HTTP/2 200\\r\\nx-oauth-scopes: " + scopes + "\\r\\n\\r\\n'\n"
		if scopes == "" {
			curl = "#!/bin/sh\nprintf 'HTTP/2 200\\r\\n\\r\\n'\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(tools, "curl"), []byte(curl), 0o755))
		cmd := exec.Command("bash", filepath.Join(project, "scripts", "preflight"), "dev")
		cmd.Env = []string{"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + t.TempDir(),
			"GITHUB_TOKEN=x", "AWS_PROFILE=lab", "PULUMI_CONFIG_PASSPHRASE=x"}
		out, err := cmd.CombinedOutput()
		if wantMissing == "" {
			assert.NoError(t, err, "scopes %q: %s", scopes, out)
			continue
		}
		assert.Error(t, err, "scopes %q", scopes)
		assert.Contains(t, string(out), wantMissing, "scopes %q", scopes)
	}
	out, err := runPreflight(t, []string{"PATH=" + fakeTools(t, "dev\\n") + ":/usr/bin:/bin", "HOME=" + t.TempDir(),
		"GITHUB_TOKEN=x", "AWS_PROFILE=lab", "PULUMI_CONFIG_PASSPHRASE=x"}, "dev")
	assert.NoError(t, err, "the project's hub archives its repos: no scope check, no call to GitHub: %s", out)
}
