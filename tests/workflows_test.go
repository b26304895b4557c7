package tests

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// projectWorkflows are the platform's own workflows.
var projectWorkflows = []string{"preview.yml", "deploy.yml", "up.yml", "drift.yml", "teardown.yml"}

// TestProjectWorkflowsPassActionlint lints the project's own workflows and
// its composite action as one project (local actions and reusable
// workflows resolved): no finding, every action pinned to a commit.
func TestProjectWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	proj, err := actionlint.NewProject(projectDir)
	require.NoError(t, err)
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	require.NoError(t, err)
	var files []string
	for _, w := range projectWorkflows {
		files = append(files, filepath.Join(projectDir, ".github", "workflows", w))
	}
	errs, err := linter.LintFiles(files, proj)
	require.NoError(t, err)
	for _, e := range errs {
		t.Errorf("actionlint: %s", e.Error())
	}
	action := filepath.Join(projectDir, ".github", "actions", "pulumi-setup", "action.yml")
	entries, err := os.ReadDir(filepath.Join(projectDir, ".github", "workflows"))
	require.NoError(t, err)
	assert.Len(t, entries, len(projectWorkflows), "a new workflow is linted here too")
	for _, f := range append(files, action) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, u := range regexp.MustCompile(`uses: (\S+)`).FindAllStringSubmatch(string(b), -1) {
			if strings.HasPrefix(u[1], "./") {
				continue
			}
			assert.Regexp(t, `@[0-9a-f]{40}$`, u[1], "%s: pinned to a commit", filepath.Base(f))
		}
	}
}

type workflow struct {
	On          map[string]any `yaml:"on"`
	Permissions map[string]string
	Jobs        map[string]struct {
		If          string
		Needs       any
		Environment string
		RunsOn      string `yaml:"runs-on"`
		Permissions map[string]string
		Uses        string
		With        map[string]any
		Strategy    struct{ Matrix map[string]any }
		Steps       []struct {
			Uses string
			Run  string
			With map[string]any
			Env  map[string]string
		}
	}
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(projectDir, ".github", "workflows", name))
	require.NoError(t, err)
	var w workflow
	require.NoError(t, yaml.Unmarshal(b, &w), name)
	return w
}

// TestProjectWorkflowsDoWhatTheySay checks the shape of each workflow: least
// permissions (read-only by default, an OIDC token only where a stack is
// touched, pull-request writes only to comment), forks get the offline
// render and policy pack, deploys go dev → staging → prod behind
// environments, drift expects no changes, teardown confirms first.
func TestProjectWorkflowsDoWhatTheySay(t *testing.T) {
	t.Parallel()
	for _, name := range projectWorkflows {
		w := readWorkflow(t, name)
		assert.Equal(t, map[string]string{"contents": "read"}, w.Permissions, "%s: read-only by default", name)
		for job, j := range w.Jobs {
			for scope, level := range j.Permissions {
				if level == "write" {
					assert.Contains(t, []string{"id-token", "pull-requests", "issues"}, scope, "%s/%s", name, job)
				}
			}
		}
	}

	preview := readWorkflow(t, "preview.yml")
	assert.Contains(t, preview.On, "pull_request")
	assert.NotContains(t, preview.On, "pull_request_target", "never run fork code with secrets")
	offline := preview.Jobs["offline"]
	assert.Empty(t, offline.Permissions, "the fork-safe job has no extra permission")
	assert.Contains(t, offline.Steps[2].Run, "-policy")
	assert.Equal(t, "render-${{ matrix.stack }}", offline.Steps[3].With["name"], "the render is attached")
	real := preview.Jobs["preview"]
	assert.Equal(t, "github.event.pull_request.head.repo.full_name == github.repository", real.If, "no secrets for forks")
	assert.Equal(t, "preview-${{ matrix.stack }}", real.Environment, "branch code gets one stack's read-only credentials and passphrase")
	assert.Equal(t, []any{"dev", "staging"}, real.Strategy.Matrix["stack"], "no branch decrypts prod's state")
	last := real.Steps[len(real.Steps)-1]
	assert.Equal(t, "preview", last.With["command"])
	assert.Equal(t, "policy", last.With["policyPacks"])
	assert.Equal(t, true, last.With["comment-on-pr"])

	deploy := readWorkflow(t, "deploy.yml")
	assert.Equal(t, "github.event_name == 'push'", deploy.Jobs["dev"].If)
	assert.Equal(t, "confirm", deploy.Jobs["dispatched"].Needs, "a dispatched deploy confirms first")
	assert.Contains(t, deploy.Jobs["confirm"].If, "github.ref == 'refs/heads/main'", "only main's code deploys")
	assert.Contains(t, deploy.Jobs["confirm"].Steps[1].Run, "scripts/confirm-stack deploy")
	assert.Equal(t, "dev", deploy.Jobs["staging"].Needs)
	assert.Equal(t, "staging", deploy.Jobs["prod"].Needs)
	for _, env := range []string{"dev", "staging", "prod"} {
		assert.Equal(t, env, deploy.Jobs[env].With["stack"])
	}
	up := readWorkflow(t, "up.yml").Jobs["up"]
	assert.Equal(t, "${{ inputs.stack }}", up.Environment, "prod's reviewers gate prod")
	assert.Equal(t, "policy", up.Steps[len(up.Steps)-1].With["policyPacks"])

	drift := readWorkflow(t, "drift.yml")
	assert.Contains(t, drift.On, "schedule")
	run := drift.Jobs["drift"].Steps[2].Run
	assert.Contains(t, run, "pulumi refresh --preview-only --expect-no-changes")
	assert.Contains(t, run, "pulumi preview --expect-no-changes")

	teardown := readWorkflow(t, "teardown.yml")
	assert.Contains(t, teardown.On, "workflow_dispatch")
	assert.NotContains(t, teardown.On, "push")
	assert.Equal(t, "confirm", teardown.Jobs["destroy"].Needs)
	assert.Equal(t, "github.ref == 'refs/heads/main'", teardown.Jobs["confirm"].If, "only main's teardown runs")
	assert.Equal(t, "preview-${{ matrix.stack }}", drift.Jobs["drift"].Environment, "each stack's own passphrase")
	assert.Contains(t, teardown.Jobs["confirm"].Steps[1].Run, "scripts/confirm-stack teardown")
	assert.Equal(t, "${{ inputs.stack }}", teardown.Jobs["destroy"].Environment)

	// Branch code and deploys never share a runner; each environment
	// deploys from runners of its own.
	const previewRunner = "${{ vars.PREVIEW_RUNNER || 'ubuntu-latest' }}"
	const deployRunner = "${{ vars[format('DEPLOY_RUNNER_{0}', inputs.stack)] || 'ubuntu-latest' }}"
	assert.Equal(t, previewRunner, real.RunsOn, "preview")
	assert.Equal(t, previewRunner, drift.Jobs["drift"].RunsOn, "drift")
	assert.Equal(t, deployRunner, up.RunsOn, "up")
	assert.Equal(t, deployRunner, teardown.Jobs["destroy"].RunsOn, "teardown")
	for _, name := range projectWorkflows {
		for job, j := range readWorkflow(t, name).Jobs {
			assert.NotContains(t, j.RunsOn, "PULUMI_RUNNER", "%s/%s: no runner shared by previews and deploys", name, job)
		}
	}

	// Every credential is an environment's: a job that reads a secret
	// (other than the run's own GITHUB_TOKEN) runs in an environment, whose
	// branch policy and reviewers decide who gets it.
	secretRef := regexp.MustCompile(`secrets\.([A-Z0-9_]+)`)
	for _, name := range projectWorkflows {
		for job, j := range readWorkflow(t, name).Jobs {
			for _, st := range j.Steps {
				var refs []string
				for _, v := range st.Env {
					refs = append(refs, v)
				}
				for _, v := range st.With {
					refs = append(refs, fmt.Sprint(v))
				}
				for _, ref := range refs {
					for _, m := range secretRef.FindAllStringSubmatch(ref, -1) {
						if m[1] != "GITHUB_TOKEN" {
							assert.NotEmpty(t, j.Environment, "%s/%s reads %s outside an environment", name, job, m[1])
						}
					}
				}
			}
		}
	}
}

// TestDispatchConfirmation runs the confirmation step of the dispatched
// deploy and teardown: a mistyped or missing confirmation, an unknown stack
// and an unknown action are refused.
func TestDispatchConfirmation(t *testing.T) {
	t.Parallel()
	script := filepath.Join(projectDir, "scripts", "confirm-stack")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(script, args...).CombinedOutput()
		return string(out), err
	}
	out, err := run("teardown", "prod", "prod")
	require.NoError(t, err, out)
	assert.Contains(t, out, "confirmed: teardown of stack prod")

	out, err = run("deploy", "prod", "prdo")
	require.Error(t, err)
	assert.Contains(t, out, "deploy refused: the confirmation 'prdo' does not match the stack 'prod'; nothing was changed")
	out, err = run("teardown", "prod", "")
	require.Error(t, err)
	assert.Contains(t, out, "does not match")
	out, err = run("teardown", "qa", "qa")
	require.Error(t, err)
	assert.Contains(t, out, "'qa' is not a stack of this project")
	out, err = run("teardown", "*", "*")
	require.Error(t, err, "a pattern is not a stack")
	assert.Contains(t, out, "'*' is not a stack of this project")
	out, err = run("destroy", "dev", "dev")
	require.Error(t, err)
	assert.Contains(t, out, "unknown action 'destroy'")
}
