package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTools puts stand-ins for pulumi, go, docker and kubectl on a PATH of
// their own; kubectl lists the given contexts, aws answers
// get-caller-identity with awsExit's status (no aws at all when awsExit < 0).
func fakeTools(t *testing.T, contexts string, awsExit int) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"pulumi", "go", "docker"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	}
	kubectl := "#!/bin/sh\nprintf '" + contexts + "'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubectl"), []byte(kubectl), 0o755))
	if awsExit >= 0 {
		aws := "#!/bin/sh\n[ \"$1 $2\" = \"sts get-caller-identity\" ] || exit 2\n"
		if awsExit == 0 {
			aws += "echo '{\"Account\": \"123456789012\"}'\n"
		} else {
			aws += "echo 'Unable to locate credentials. You can configure credentials by running \"aws configure\".' >&2\nexit 253\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "aws"), []byte(aws), 0o755))
	}
	// The real curl, and nothing else of the machine's that might answer.
	curl, err := exec.LookPath("curl")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(curl, filepath.Join(dir, "curl")))
	return dir
}

// preflightProject is a copy of the project's preflight and stack files,
// with the hub's githubOwner set to owner and extra lines in its config.
func preflightProject(t *testing.T, owner string, hubExtra ...string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "scripts"), 0o755))
	script, err := os.ReadFile(filepath.Join(projectDir, "scripts", "preflight"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "preflight"), script, 0o755))
	for _, s := range stacks {
		b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+s+".yaml"))
		require.NoError(t, err)
		content := string(b)
		if s == "dev" {
			content = strings.Replace(content, "gitops-platform:githubOwner: gitops-seminar", "gitops-platform:githubOwner: "+owner, 1)
			for _, l := range hubExtra {
				content += "  gitops-platform:" + l + "\n"
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi."+s+".yaml"), []byte(content), 0o644))
	}
	return dir
}

// runPreflight runs a project's preflight with exactly env.
func runPreflight(t *testing.T, project string, env []string, stacks ...string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, append([]string{filepath.Join(project, "scripts", "preflight")}, stacks...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// readyEnv is what a person who followed the quick start has set.
func readyEnv(tools string, g *githubStandIn, extra ...string) []string {
	return append([]string{"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + tools,
		"GITHUB_TOKEN=" + g.token, "GITHUB_BASE_URL=" + g.URL, "PULUMI_CONFIG_PASSPHRASE=x"}, extra...)
}

// TestPreflightNamesWhatIsMissing checks that the check before `make up`
// lists every missing credential, kube context and setting, each with
// what to do, and asks nothing of GitHub without a token.
func TestPreflightNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	out, err := runPreflight(t, projectDir, []string{"PATH=" + fakeTools(t, "dev\\n", 0) + ":/usr/bin:/bin", "HOME=" + t.TempDir()}, "dev", "staging")
	require.Error(t, err)
	assert.Contains(t, out, "GITHUB_TOKEN is not set")
	assert.Contains(t, out, "PULUMI_CONFIG_PASSPHRASE")
	assert.Contains(t, out, "kube context(s) staging not in your kubeconfig")
	assert.Contains(t, out, "make lab creates the minikube clusters")
	assert.Contains(t, out, "githubOwner is still the example's (gitops-seminar): set it to your GitHub user or organization")
	assert.NotContains(t, out, "is not on PATH")
	assert.NotContains(t, out, "Docker daemon", "docker info answers")
}

// TestPreflightReady: a paid account, a working token with its scopes,
// AWS answering, every context there.
func TestPreflightReady(t *testing.T) {
	t.Parallel()
	g := newGitHubStandIn(t, "octo-user", "repo, workflow", map[string]githubAccount{"octo-user": {plan: "pro"}})
	out, err := runPreflight(t, preflightProject(t, "octo-user"), readyEnv(fakeTools(t, "dev\\nstaging\\nprod\\n", 0), g))
	require.NoError(t, err, out)
	assert.Contains(t, out, "preflight: ready for dev staging prod (registry: ecr)")
	assert.Contains(t, g.asked, "/users/octo-user")
}

// TestPreflightChecksThatThingsWork puts each check before a stand-in that
// answers as the real service does when something is wrong, and expects
// the message that says what to do.
func TestPreflightChecksThatThingsWork(t *testing.T) {
	t.Parallel()
	paid := map[string]githubAccount{"octo-user": {plan: "pro"}}
	free := map[string]githubAccount{"octo-user": {plan: "free"}}
	for name, c := range map[string]struct {
		scopes   string
		accounts map[string]githubAccount
		hubExtra []string
		awsExit  int
		token    string
		want     string // "" is ready
	}{
		"made-up token":           {scopes: "repo, workflow", accounts: paid, token: "ghp_madeup", want: "GitHub refused GITHUB_TOKEN (401 Bad credentials)"},
		"no workflow scope":       {scopes: "repo", accounts: paid, want: "GITHUB_TOKEN lacks the workflow scope (it has: repo)"},
		"delete without scope":    {scopes: "repo, workflow", accounts: paid, hubExtra: []string{"reposOnDestroy: delete"}, want: "lacks the delete_repo scope"},
		"delete with scope":       {scopes: "repo, workflow, delete_repo", accounts: paid, hubExtra: []string{"reposOnDestroy: delete"}},
		"free plan, private":      {scopes: "repo, workflow", accounts: free, want: "octo-user is on GitHub Free, which offers environments and rulesets on public repositories only: set gitops-platform:publicRepos: true"},
		"free plan, public":       {scopes: "repo, workflow", accounts: free, hubExtra: []string{"publicRepos: true"}},
		"AWS refuses":             {scopes: "repo, workflow", accounts: paid, awsExit: 253, want: "AWS does not accept your credentials (Unable to locate credentials"},
		"no AWS CLI with ECR":     {scopes: "repo, workflow", accounts: paid, awsExit: -1, want: "the AWS CLI is not on PATH"},
		"ghcr needs no AWS":       {scopes: "repo, workflow, write:packages", accounts: free, awsExit: -1, hubExtra: []string{"publicRepos: true", "registry: ghcr"}},
		"ghcr push scope":         {scopes: "repo, workflow", accounts: free, awsExit: -1, hubExtra: []string{"publicRepos: true", "registry: ghcr"}, want: "lacks the write:packages scope"},
		"owner that is not there": {scopes: "repo, workflow", accounts: map[string]githubAccount{"someone": {plan: "pro"}}, want: "GitHub has no user or organization 'octo-user'"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newGitHubStandIn(t, "octo-user", c.scopes, c.accounts)
			if c.accounts["octo-user"] == (githubAccount{}) {
				g.login = "someone"
			}
			env := readyEnv(fakeTools(t, "dev\\nstaging\\nprod\\n", c.awsExit), g)
			if c.token != "" {
				env = append(env, "GITHUB_TOKEN="+c.token)
			}
			out, err := runPreflight(t, preflightProject(t, "octo-user", c.hubExtra...), env)
			if c.want == "" {
				assert.NoError(t, err, out)
				return
			}
			assert.Error(t, err)
			assert.Contains(t, out, c.want)
		})
	}
}

// TestPreflightNeedsDockerForTheFirstImage checks that the hub's first image
// needs a Docker daemon, and says how to do without one.
func TestPreflightNeedsDockerForTheFirstImage(t *testing.T) {
	t.Parallel()
	g := newGitHubStandIn(t, "octo-user", "repo, workflow", map[string]githubAccount{"octo-user": {plan: "pro"}})
	tools := fakeTools(t, "dev\\n", 0)
	require.NoError(t, os.WriteFile(filepath.Join(tools, "docker"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	out, err := runPreflight(t, preflightProject(t, "octo-user"), readyEnv(tools, g), "dev")
	require.Error(t, err)
	assert.Contains(t, out, "no Docker daemon answers")
	assert.Contains(t, out, "bootstrapImage: false")
}
