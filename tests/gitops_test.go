package tests

import (
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
)

// renderRepos writes every stack's repo files into one tree, as the repos
// hold them once all three stacks are up: repos/<repo>/<path>.
func renderRepos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, env := range stacks {
		files, err := evaluate(t, env).RepoFiles()
		require.NoError(t, err)
		for _, f := range files {
			p := filepath.Join(dir, f.Repo, filepath.FromSlash(f.Path))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(f.Content), 0o644))
		}
	}
	return dir
}

func lintWorkflow(t *testing.T, name string, content []byte) []*actionlint.Error {
	t.Helper()
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	require.NoError(t, err)
	errs, err := linter.Lint(name, content, nil)
	require.NoError(t, err)
	return errs
}

// TestWorkflowPassesActionlint checks the source repo's CI workflow with
// actionlint: zero findings, every action pinned to a full commit SHA, and
// the least permissions (id-token only where AWS is reached).
func TestWorkflowPassesActionlint(t *testing.T) {
	t.Parallel()
	ci, err := os.ReadFile(filepath.Join(renderRepos(t), "tech-seminar-source", ".github", "workflows", "ci.yaml"))
	require.NoError(t, err)
	for _, e := range lintWorkflow(t, "ci.yaml", ci) {
		t.Errorf("actionlint: %s", e.Error())
	}
	uses := regexp.MustCompile(`uses: (\S+)`).FindAllStringSubmatch(string(ci), -1)
	require.NotEmpty(t, uses)
	for _, u := range uses {
		assert.Regexp(t, `@[0-9a-f]{40}$`, u[1], "pinned to a commit")
	}
	text := string(ci)
	assert.Contains(t, text, "permissions:\n  contents: read\n", "read-only by default")
	assert.Equal(t, 1, strings.Count(text, "id-token: write"), "only the release job gets an OIDC token")
	assert.Contains(t, text, "concurrency:")
	assert.NotContains(t, text, "aws-access-key-id", "no long-lived AWS key")
}

// TestActionlintCatchesABrokenWorkflow proves the check can fail.
func TestActionlintCatchesABrokenWorkflow(t *testing.T) {
	t.Parallel()
	broken := []byte("on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n      - uses: actions/checkout@v4\n        with:\n          no-such-input: true\n")
	assert.NotEmpty(t, lintWorkflow(t, "broken.yaml", broken))
}

// kustomizeBin is the pinned kustomize `make tools` builds.
func kustomizeBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(projectDir, "bin", "kustomize"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools` (make test does)", bin)
	}
	return bin
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

// TestOverlaysBuild checks `kustomize build manifests/<env>` of the rendered
// gitops repo: each environment gets its replicas, the image, the pull
// secret and its name in APP_ENVIRONMENT.
func TestOverlaysBuild(t *testing.T) {
	t.Parallel()
	gitops := filepath.Join(renderRepos(t), "tech-seminar-gitops")
	for env, replicas := range map[string]string{"dev": "1", "staging": "2", "prod": "3"} {
		out := run(t, gitops, nil, kustomizeBin(t), "build", "manifests/"+env)
		assert.Contains(t, out, "replicas: "+replicas, env)
		assert.Regexp(t, `image: ['"]?\[computed aws:ecr/repository:Repository gitops-monitor.repositoryUrl\]:sha-bootstrap-[0-9a-f]{12}`, out, env)
		assert.Contains(t, out, "name: APP_ENVIRONMENT\n          value: "+env, env)
		assert.Contains(t, out, "- name: ecr-pull", env)
		assert.Contains(t, out, "namespace: gitops-monitor", env)
	}
}

// gitRepo makes a clone of the rendered gitops repo with a bare origin, as
// the CI's checkout has it.
func gitRepo(t *testing.T) (work, origin string) {
	t.Helper()
	src := filepath.Join(renderRepos(t), "tech-seminar-gitops")
	origin = filepath.Join(t.TempDir(), "origin.git")
	run(t, src, nil, "git", "init", "-q", "-b", "main")
	run(t, src, nil, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
	run(t, src, nil, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed")
	run(t, src, nil, "git", "clone", "-q", "--bare", src, origin)
	work = filepath.Join(t.TempDir(), "gitops")
	run(t, ".", nil, "git", "clone", "-q", origin, work)
	run(t, work, nil, "git", "config", "user.name", "ci")
	run(t, work, nil, "git", "config", "user.email", "ci@example.com")
	return work, origin
}

func bumpScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(renderRepos(t), "tech-seminar-source", ".github", "scripts", "bump-image.sh"))
	require.NoError(t, err)
	return p
}

func pathWithKustomize(t *testing.T) []string {
	return []string{"PATH=" + filepath.Dir(kustomizeBin(t)) + string(os.PathListSeparator) + os.Getenv("PATH")}
}

const testRepo = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/gitops-monitor"

// TestTagBump runs the workflow's tag-bump script against a local git repo:
// every environment gets the new image, nothing else changes, the commit is
// pushed, and every overlay still builds.
func TestTagBump(t *testing.T) {
	t.Parallel()
	work, origin := gitRepo(t)
	env := pathWithKustomize(t)
	out := run(t, work, env, "bash", bumpScript(t), ".", "gitops-monitor", testRepo, "sha-1a2b3c4")
	assert.Contains(t, out, "deployed "+testRepo+":sha-1a2b3c4")

	diff := run(t, work, nil, "git", "diff", "HEAD~1", "--unified=0")
	for _, line := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) && !strings.HasPrefix(line, "+++") && !strings.HasPrefix(line, "---") {
			assert.Regexp(t, `^[+-]\s+new(Name|Tag): `, line, "only the image changes")
		}
	}
	assert.Equal(t, 3, strings.Count(diff, "+  newTag: sha-1a2b3c4"), "every environment")
	assert.Equal(t, run(t, work, nil, "git", "rev-parse", "HEAD"), run(t, origin, nil, "git", "rev-parse", "main"), "pushed")
	for _, e := range stacks {
		assert.Contains(t, run(t, work, nil, kustomizeBin(t), "build", "manifests/"+e), "image: "+testRepo+":sha-1a2b3c4")
	}

	again := run(t, work, env, "bash", bumpScript(t), ".", "gitops-monitor", testRepo, "sha-1a2b3c4")
	assert.Contains(t, again, "already runs", "a second run with the same tag changes nothing")
}

// TestTagBumpRetriesARacedPush checks that when another push lands first,
// the script rebases on it and still deploys.
func TestTagBumpRetriesARacedPush(t *testing.T) {
	t.Parallel()
	work, origin := gitRepo(t)
	other := filepath.Join(t.TempDir(), "other")
	run(t, ".", nil, "git", "clone", "-q", origin, other)
	require.NoError(t, os.WriteFile(filepath.Join(other, "NOTES.md"), []byte("a person's change\n"), 0o644))
	run(t, other, nil, "git", "-c", "user.name=p", "-c", "user.email=p@p", "add", "NOTES.md")
	run(t, other, nil, "git", "-c", "user.name=p", "-c", "user.email=p@p", "commit", "-qm", "notes")
	run(t, other, nil, "git", "push", "-q", "origin", "HEAD:main")

	out := run(t, work, pathWithKustomize(t), "bash", bumpScript(t), ".", "gitops-monitor", testRepo, "sha-9f8e7d6")
	assert.Contains(t, out, "push raced another")
	assert.Contains(t, out, "deployed")
	log := run(t, origin, nil, "git", "log", "--format=%s", "main")
	assert.True(t, strings.HasPrefix(log, "Deploy gitops-monitor sha-9f8e7d6 to every environment\nnotes\n"), log)
}

// TestRollbackDrill is the seminar's rollback: a bad tag is deployed, and
// `git revert HEAD` in the gitops repo restores the previous image in every
// overlay, which still builds.
func TestRollbackDrill(t *testing.T) {
	t.Parallel()
	work, _ := gitRepo(t)
	env := pathWithKustomize(t)
	run(t, work, env, "bash", bumpScript(t), ".", "gitops-monitor", testRepo, "sha-good111")
	run(t, work, env, "bash", bumpScript(t), ".", "gitops-monitor", testRepo, "sha-crash22")
	run(t, work, nil, "git", "revert", "--no-edit", "HEAD")
	for _, e := range stacks {
		out := run(t, work, nil, kustomizeBin(t), "build", "manifests/"+e)
		assert.Contains(t, out, "image: "+testRepo+":sha-good111", e)
		assert.NotContains(t, out, "sha-crash22", e)
	}
}

// TestReleaseRerunSkipsAPushedTag runs the release job's "Build and push"
// step, as the rendered workflow holds it, with stand-ins for aws and
// docker: a tag already in ECR (a re-run) is neither built nor pushed, a
// new one is, for linux/amd64 and linux/arm64, and any other answer from
// ECR fails the step before a build.
func TestReleaseRerunSkipsAPushedTag(t *testing.T) {
	t.Parallel()
	ci, err := os.ReadFile(filepath.Join(renderRepos(t), "tech-seminar-source", ".github", "workflows", "ci.yaml"))
	require.NoError(t, err)
	script := buildStep(t, ci)

	for name, c := range map[string]struct {
		aws      string // the stand-in's answer to describe-images
		wantErr  bool
		wantPush bool
	}{
		"re-run: tag in ECR": {aws: "echo '{\"imageDetails\":[{}]}'", wantPush: false},
		"new tag":            {aws: "echo 'An error occurred (ImageNotFoundException) when calling the DescribeImages operation' >&2; exit 254", wantPush: true},
		"ECR refuses":        {aws: "echo 'An error occurred (AccessDeniedException)' >&2; exit 254", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			out, calls, err := runBuildStep(t, script, testRepo, map[string]string{"aws": c.aws, "docker": ""})
			if c.wantErr {
				require.Error(t, err, "%s", out)
				assert.Contains(t, out, "AccessDeniedException")
			} else {
				require.NoError(t, err, "%s", out)
			}
			assert.Contains(t, calls, "aws ecr describe-images --repository-name gitops-monitor --image-ids imageTag=sha-1a2b3c4")
			// Both architectures in one push: minikube on arm64 laptops pulls the same tag.
			assert.Equal(t, c.wantPush, strings.Contains(calls, "docker buildx build --platform linux/amd64,linux/arm64 "+
				"--build-arg APP_VERSION=sha-1a2b3c4 -t "+testRepo+":sha-1a2b3c4 --push ."), "%s", calls)
			assert.Equal(t, c.wantPush, strings.Contains(calls, "docker buildx build"), "%s", calls)
		})
	}
}
