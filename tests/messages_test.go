package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMessagesSayWhatToDo checks the messages a new user meets first: a
// missing syncMode lists its values, every message names the stack's own
// file, a hub without hub: true is told to set it.
func TestMessagesSayWhatToDo(t *testing.T) {
	t.Parallel()
	st, err := offline.LoadStack(projectDir, "staging")
	require.NoError(t, err)
	delete(st.Config, "gitops-platform:syncMode")
	_, err = offline.Run(st, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gitops-platform:syncMode: required: auto (Argo CD syncs on its own) or manual (a person syncs; prod); set it in Pulumi.staging.yaml")
	assert.NotContains(t, err.Error(), "<stack>")

	hub, err := offline.LoadStack(projectDir, "dev")
	require.NoError(t, err)
	delete(hub.Config, "gitops-platform:hub")
	_, err = offline.Run(hub, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "if this is the hub, set gitops-platform:hub: true in Pulumi.dev.yaml")
}

// TestMisplacedKeyIsNamed: a key written beside config: instead of under
// it is never read by Pulumi; the render and preflight say so.
func TestMisplacedKeyIsNamed(t *testing.T) {
	t.Parallel()
	dir := preflightProject(t, "octo-user")
	b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), b, 0o644))
	f := filepath.Join(dir, "Pulumi.dev.yaml")
	dev, err := os.ReadFile(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f, append(dev, []byte("gitops-platform:publicRepos: true\n")...), 0o644))

	_, err = offline.LoadStack(dir, "dev")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Pulumi.dev.yaml: gitops-platform:publicRepos: misplaced outside config:")

	out, err := runPreflight(t, dir, []string{"PATH=" + fakeTools(t, "dev\\n", 0) + ":/usr/bin:/bin", "HOME=" + t.TempDir()}, "dev")
	require.Error(t, err)
	assert.Contains(t, out, "Pulumi.dev.yaml: gitops-platform:publicRepos outside config:, where Pulumi never reads it")
}

// TestKubeconfigTilde: ~/ is the home directory, as in a shell; ~user is
// refused with the reason.
func TestKubeconfigTilde(t *testing.T) {
	t.Parallel()
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	raw := func(kubeconfig string) infra.Raw {
		r := infra.Raw{Values: map[string]string{}, Secret: map[string]bool{}, Stack: "dev"}
		st, err := offline.LoadStack(projectDir, "dev")
		require.NoError(t, err)
		for k, v := range st.Config {
			r.Values[k] = v
		}
		r.Values[infra.FullKey(infra.KeyKubeconfig)] = kubeconfig
		return r
	}
	cfg, err := infra.Parse(raw("~/.kube/lab"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".kube", "lab"), cfg.Kubeconfig)
	_, err = infra.Parse(raw("~alice/.kube/config"))
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "~user is not expanded"), err.Error())
}

// TestQuickStartComesFirst keeps the README written for a new user: the
// numbered quick start sits in the first 150 lines and names each command
// it walks through, in order.
func TestQuickStartComesFirst(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(projectDir, "README.md"))
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Greater(t, len(lines), 150)
	head := strings.Join(lines[:150], "\n")
	start := strings.Index(head, "## Quick start")
	require.GreaterOrEqual(t, start, 0, "the quick start begins in the first 150 lines")
	end := strings.Index(head[start:], "\n## ")
	require.Positive(t, end, "and ends there")
	quick := head[start : start+end]
	at := 0
	for _, cmd := range []string{"make lab", "make preflight", "make up", "make argocd", "make grafana", "Rollback drill", "make down"} {
		i := strings.Index(quick[at:], cmd)
		require.GreaterOrEqual(t, i, 0, "the quick start names %s after what comes before it", cmd)
		at += i
	}
}
