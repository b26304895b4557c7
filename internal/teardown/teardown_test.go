package teardown_test

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/teardown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePulumi answers `stack export` from canned states and records what
// it was asked to destroy.
type fakePulumi struct {
	states    map[string][]map[string]any // stack -> resources; absent: no such stack
	destroyed []string
	failOn    string
}

func (f *fakePulumi) Output(args ...string) ([]byte, error) {
	if args[0] == "stack" && args[1] == "ls" {
		var list []map[string]any
		for name, res := range f.states {
			if !slices.Contains(f.destroyed, name) {
				list = append(list, map[string]any{"name": name, "resourceCount": len(res)})
			}
		}
		return json.Marshal(list)
	}
	stack := args[len(args)-1]
	res, ok := f.states[stack]
	if !ok {
		return nil, errors.New(`error: no stack named '` + stack + `' found`)
	}
	return json.Marshal(map[string]any{"version": 3, "deployment": map[string]any{"resources": res}})
}

func (f *fakePulumi) Stream(args ...string) error {
	stack := args[len(args)-1]
	if stack == f.failOn {
		return errors.New("exit status 255")
	}
	f.destroyed = append(f.destroyed, stack)
	return nil
}

func hubState(protect, forceDelete bool) []map[string]any {
	return []map[string]any{
		{"urn": "urn:pulumi:dev::gitops-platform::gitops-platform:argocd:ArgoCD::argocd", "type": "gitops-platform:argocd:ArgoCD"},
		{"urn": "urn:pulumi:dev::gitops-platform::aws:ecr/repository:Repository::gitops-monitor", "type": "aws:ecr/repository:Repository",
			"protect": protect, "inputs": map[string]any{"forceDelete": forceDelete}},
	}
}

func envState(env string) []map[string]any {
	return []map[string]any{{"urn": "urn:pulumi:" + env + "::gitops-platform::kubernetes:core/v1:Secret::" + env + "-registration", "type": "kubernetes:core/v1:Secret"}}
}

// TestTeardownOrderAndProtection checks make destroy's tool: prod, staging
// and the hub go in that order; a protected resource or a hub that is not
// last stops it before anything is destroyed, saying how to proceed.
func TestTeardownOrderAndProtection(t *testing.T) {
	t.Parallel()
	f := &fakePulumi{states: map[string][]map[string]any{"dev": hubState(false, true), "staging": envState("staging"), "prod": envState("prod")}}
	var out strings.Builder
	require.NoError(t, teardown.Run(f, []string{"prod", "staging", "dev"}, &out))
	assert.Equal(t, []string{"prod", "staging", "dev"}, f.destroyed)

	f = &fakePulumi{states: map[string][]map[string]any{"dev": hubState(true, false), "staging": envState("staging"), "prod": envState("prod")}}
	out.Reset()
	err := teardown.Run(f, []string{"prod", "staging", "dev"}, &out)
	require.Error(t, err)
	assert.Empty(t, f.destroyed, "nothing is destroyed when one stack refuses")
	assert.Contains(t, err.Error(), "aws:ecr/repository:Repository::gitops-monitor is protected")
	assert.Contains(t, err.Error(), "set registryProtect: false")
	assert.Contains(t, err.Error(), "pulumi state unprotect --stack dev")
	assert.Contains(t, out.String(), "registryForceDelete: false", "a registry that keeps its images is pointed out")

	f = &fakePulumi{states: map[string][]map[string]any{"dev": hubState(false, true), "prod": envState("prod")}}
	err = teardown.Run(f, []string{"dev", "prod"}, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stack dev is the hub (it runs Argo CD): destroy it last, after prod")
	assert.Empty(t, f.destroyed)

	// The hub alone (make destroy STACK=dev, or the teardown workflow)
	// while an environment still has resources.
	f = &fakePulumi{states: map[string][]map[string]any{"dev": hubState(false, true), "staging": envState("staging"), "prod": {}}}
	err = teardown.Run(f, []string{"dev"}, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stack staging still has 1 resources registered with it: destroy staging first")
	assert.NotContains(t, err.Error(), "stack prod", "an emptied stack is no obstacle")
	assert.Empty(t, f.destroyed)
}

// TestTeardownMissingStackAndFailure checks a stack never created is
// skipped, and a failed destroy stops before the stacks after it.
func TestTeardownMissingStackAndFailure(t *testing.T) {
	t.Parallel()
	f := &fakePulumi{states: map[string][]map[string]any{"dev": hubState(false, true), "prod": envState("prod")}, failOn: "prod"}
	var out strings.Builder
	err := teardown.Run(f, []string{"prod", "staging", "dev"}, &out)
	require.Error(t, err)
	assert.Contains(t, out.String(), "stack staging does not exist")
	assert.Contains(t, err.Error(), "destroying stack prod failed")
	assert.Contains(t, err.Error(), "stuck finalizers")
	assert.Empty(t, f.destroyed, "the hub stays while prod is not gone")

	require.Error(t, teardown.Run(f, nil, &out))
}

// TestHelpPrintsUsage: --help prints the usage and touches no stack; an
// unknown flag is refused with it.
func TestHelpPrintsUsage(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h"} {
		var out strings.Builder
		require.NoError(t, teardown.Run(nil, []string{arg}, &out))
		assert.Equal(t, teardown.Usage, out.String())
	}
	err := teardown.Run(nil, []string{"--force", "dev"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown flag --force")
}
