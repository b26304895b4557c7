package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunSaysWhatTheCacheHas runs the step with every tool in the cache:
// a line per tool of the tiers asked for, each "cached", nothing built.
func TestRunSaysWhatTheCacheHas(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cache, err := tools.CacheDir()
	require.NoError(t, err)
	for _, tool := range tools.All {
		require.NoError(t, os.WriteFile(filepath.Join(cache, tool.File()), nil, 0o755))
	}
	var out strings.Builder
	require.NoError(t, run([]string{"apiserver"}, &out))
	assert.Equal(t, "tier-tools: etcd v3.5.21: cached\ntier-tools: kube-apiserver v1.33.0: cached\n"+
		"tier-tools: every tool from the cache ("+cache+")\n", out.String(), "the API-server tier runs etcd and kube-apiserver only")
	out.Reset()
	require.NoError(t, run(nil, &out))
	assert.Equal(t, len(tools.All)+1, strings.Count(out.String(), "\n"), "every tool: %s", out.String())
	assert.ErrorContains(t, run([]string{"e2e"}, &out), `unknown tier "e2e"`)
}

// TestBuildStreamsProgress builds a small real package as a tool: a line
// when it starts (first run only, about how long), one when it is done
// with the time it took, the binary in the cache; a second Build is the
// cached binary, silent.
func TestBuildStreamsProgress(t *testing.T) {
	cache := t.TempDir()
	tool := tools.Tool{Name: "tier-tools", Version: "v0", Module: "build", Package: ".", FirstBuild: 90 * time.Second}
	var out strings.Builder
	path, err := tool.Build(cache, &out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, out.String())
	assert.Equal(t, "tier-tools: tier-tools v0: building (first run only, about 2 min)", lines[0])
	assert.Regexp(t, `^tier-tools: tier-tools v0: built in [0-9.]+m?s`, lines[1])
	assert.Equal(t, filepath.Join(cache, "tier-tools-v0"), path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o111, "an executable")
	out.Reset()
	again, err := tool.Build(cache, &out)
	require.NoError(t, err)
	assert.Equal(t, path, again)
	assert.Empty(t, out.String(), "a cached tool builds nothing and says nothing")
}
