package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/gitops-platform/gitops-platform/policy/guardrails/guardrailstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// analyzed builds a resource as the engine hands it to a policy.
var analyzed = guardrailstest.Resource

// violations runs the pack for a stack over resources, naming the broken
// rules with their level.
var violations = guardrailstest.Violations

// TestPolicyOverEveryStack runs the pack over each stack's offline render:
// no violation at all, and the rules did see the resources they are for.
func TestPolicyOverEveryStack(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		st, err := guardrails.StackFromConfig(env, res.Stack.ConfigValue)
		require.NoError(t, err)
		resources := res.AnalyzerResources()
		assert.Empty(t, violations(t, st, resources...), env)
		seen := map[string]int{}
		for _, r := range resources {
			seen[r.Type]++
		}
		assert.Positive(t, seen["kubernetes:core/v1:Secret"], env)
		assert.Positive(t, seen["kubernetes:helm.sh/v3:Release"], env)
		if env == "dev" {
			for _, typ := range []string{"aws:ecr/repository:Repository", "aws:iam/role:Role", "github:index/repository:Repository",
				"github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret", "github:index/repositoryDeployKey:RepositoryDeployKey",
				"kubernetes:argoproj.io/v1alpha1:ApplicationSet"} {
				assert.Positive(t, seen[typ], "dev has a %s for the rules to check", typ)
			}
			// The program's write key, put back where an earlier version
			// kept it (a repository secret), is caught through the
			// dependencies the engine reports.
			moved := slices.Clone(resources)
			for i, r := range moved {
				if r.Type == "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret" {
					moved[i].Type = "github:index/actionsSecret:ActionsSecret"
				}
			}
			got := violations(t, st, moved...)
			require.Len(t, got, 1)
			assert.Contains(t, got[0], "ruleset-bypass-key-in-environment mandatory: holds the write deploy key repos-ci-key")
		}
	}
}

// TestPolicyCatchesTheProgram changes the program's config the way a hasty
// edit would and checks the pack stops it: prod set to sync on its own, an
// insecure cluster outside a lab, a production hub with the lab's registry.
func TestPolicyCatchesTheProgram(t *testing.T) {
	t.Parallel()
	check := func(stack string, set map[string]string, mark func(*guardrails.Stack)) []string {
		res, err := evaluateWith(t, stack, set)
		require.NoError(t, err)
		st, err := guardrails.StackFromConfig(stack, res.Stack.ConfigValue)
		require.NoError(t, err)
		if mark != nil {
			mark(&st)
		}
		return violations(t, st, res.AnalyzerResources()...)
	}
	got := check("prod", map[string]string{"syncMode": "auto"}, nil)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "prod-cluster-syncs-manually mandatory")

	got = check("staging", map[string]string{"clusterInsecure": "true"}, nil)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "cluster-secret-verifies-tls mandatory")

	got = check("dev", map[string]string{"clusterInsecure": "true"}, nil)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "cluster-secret-verifies-tls advisory", "dev is a localLab")

	// The config check refuses productionData with the lab's registry, so
	// mark the stack in the pack only: the registry rule must still hold.
	got = check("dev", nil, func(s *guardrails.Stack) { s.ProductionData = true })
	assert.Len(t, got, 2)
	assert.Contains(t, strings.Join(got, "\n"), "ecr-production-data-protected mandatory")
}

// TestRenderRunsThePolicyPack checks `render -policy` passes the project's
// stacks and fails, with the count and the rule, on a copy of the project
// whose prod stack file was edited to sync on its own.
func TestRenderRunsThePolicyPack(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	require.NoError(t, offline.Command([]string{"-stack", "prod", "-out", t.TempDir(), "-project", projectDir, "-policy"}, &out))
	assert.Contains(t, out.String(), "no mandatory violation in stack prod")

	prod, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.prod.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(prod), "syncMode: manual")
	dir := copyProject(t, map[string]string{"dev": "", "prod": strings.Replace(string(prod), "syncMode: manual", "syncMode: auto", 1)})
	out.Reset()
	err = offline.Command([]string{"-stack", "prod", "-out", t.TempDir(), "-project", dir, "-policy"}, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 mandatory violation(s) in stack prod")
	assert.Contains(t, out.String(), "[mandatory] prod-cluster-syncs-manually")
}
