package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// ghcrHub is the hub's config for GitHub's container registry on a GitHub
// Free account: public repos, no AWS.
var ghcrHub = map[string]string{"registry": "ghcr", "publicRepos": "true"}

// evaluateGHCR runs a stack of a platform whose hub uses ghcr, with the
// stack's own config changed by set; a joining stack reads the ghcr hub.
func evaluateGHCR(t testing.TB, stack string, set map[string]string, secrets ...string) (*offline.Result, error) {
	t.Helper()
	hubSet := map[string]string{}
	for k, v := range ghcrHub {
		hubSet[k] = v
	}
	if stack == "dev" {
		for k, v := range set {
			hubSet[k] = v
		}
		return evaluateStack(t, "dev", hubSet, nil, secrets...)
	}
	hub, err := evaluateStack(t, "dev", hubSet, nil)
	require.NoError(t, err)
	return evaluateStack(t, stack, set, map[string]resource.PropertyMap{"dev": offline.ElideSecrets(hub.Outputs)}, secrets...)
}

// evaluateStack runs one stack file with config changed and the given hub outputs.
func evaluateStack(t testing.TB, stack string, set map[string]string, refs map[string]resource.PropertyMap, secrets ...string) (*offline.Result, error) {
	t.Helper()
	st, err := offline.LoadStack(projectDir, stack)
	require.NoError(t, err)
	for k, v := range set {
		st.Config["gitops-platform:"+k] = v
	}
	for _, k := range secrets {
		st.Secrets = append(st.Secrets, "gitops-platform:"+k)
	}
	return offline.Run(st, refs)
}

// TestGHCRStacksNeedNoAWS renders every stack of a ghcr platform: no
// resource and no provider of AWS anywhere, every overlay naming the image
// on ghcr.io, and no ECR output on the hub.
func TestGHCRStacksNeedNoAWS(t *testing.T) {
	t.Parallel()
	for _, stack := range stacks {
		res, err := evaluateGHCR(t, stack, nil)
		require.NoError(t, err, stack)
		for _, r := range res.Resources {
			assert.False(t, strings.HasPrefix(r.Type, "aws:") || r.Type == typeAWSProvider, "%s: %s %s is AWS's", stack, r.Type, r.Name)
		}
		overlay := named(t, res, typeRepoFile, stack+"-overlay-kustomization")
		assert.Contains(t, fmt.Sprint(reveal(overlay.Inputs["content"])), `newName: "ghcr.io/gitops-seminar/gitops-monitor"`, stack)
		if stack == "dev" {
			assert.Equal(t, "ghcr", res.Outputs["registry"].StringValue())
			for _, o := range []string{"repositoryArn", "registryId", "awsRegion", "ciRoleArn"} {
				assert.NotContains(t, res.Outputs, resource.PropertyKey(o), "a ghcr hub has no %s", o)
			}
		}
	}
}

// TestGHCRImageNameIsLowerCase: ghcr.io refuses upper case in an image
// name, and GitHub owners may have it.
func TestGHCRImageNameIsLowerCase(t *testing.T) {
	t.Parallel()
	res, err := evaluateGHCR(t, "dev", map[string]string{"githubOwner": "Seminar-Org"})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/seminar-org/gitops-monitor", res.Outputs["imageRepository"].StringValue())
	img := one(t, res, "docker:index/image:Image")
	assert.Equal(t, "ghcr.io", fmt.Sprint(reveal(path(img.Inputs, "registry", "server"))))
	assert.True(t, path(img.Inputs, "registry", "password").IsSecret(), "the push token stays secret")
	assert.Equal(t, offline.GitHubTokenPlaceholder, fmt.Sprint(reveal(path(img.Inputs, "registry", "password"))))
}

// TestGHCRCIPushesWithItsOwnToken checks the ghcr workflow and its
// settings: the release job pushes with its GITHUB_TOKEN (packages: write),
// gets no OIDC token, reads IMAGE_REPOSITORY and no AWS variable, builds
// for both architectures, and passes actionlint with every action pinned.
func TestGHCRCIPushesWithItsOwnToken(t *testing.T) {
	t.Parallel()
	res, err := evaluateGHCR(t, "dev", nil)
	require.NoError(t, err)
	vars := map[string]any{}
	for _, v := range byType(res, "github:index/actionsVariable:ActionsVariable") {
		vars[v.Inputs["variableName"].StringValue()] = reveal(v.Inputs["value"])
	}
	assert.Equal(t, map[string]any{
		"IMAGE_REPOSITORY": "ghcr.io/gitops-seminar/gitops-monitor",
		"GITOPS_REPO":      "gitops-seminar/tech-seminar-gitops",
		"APP_NAME":         "gitops-monitor",
	}, vars)
	ci := repoFile(t, res, "tech-seminar-source", ".github/workflows/ci.yaml")
	for _, e := range lintWorkflow(t, "ci.yaml", []byte(ci)) {
		t.Errorf("actionlint: %s", e.Error())
	}
	var wf struct {
		Jobs map[string]struct {
			Environment string            `yaml:"environment"`
			Permissions map[string]string `yaml:"permissions"`
			Steps       []struct {
				Uses string `yaml:"uses"`
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(ci), &wf))
	release := wf.Jobs["release"]
	assert.Equal(t, map[string]string{"contents": "read", "packages": "write"}, release.Permissions)
	assert.Equal(t, "release", release.Environment)
	assert.NotContains(t, ci, "id-token")
	assert.NotContains(t, ci, "aws")
	for name := range vars {
		assert.Contains(t, ci, "vars."+name)
	}
	for _, st := range release.Steps {
		if st.Uses != "" {
			assert.Regexp(t, `@[0-9a-f]{40}$`, st.Uses, "pinned to a commit")
		}
	}
	assert.Contains(t, buildStep(t, []byte(ci)), "--platform linux/amd64,linux/arm64")
	dockerfile := repoFile(t, res, "tech-seminar-source", "Dockerfile")
	assert.Contains(t, dockerfile, `LABEL org.opencontainers.image.source="https://github.com/gitops-seminar/tech-seminar-source"`,
		"the first push links the package to the source repo, whose workflows may then push to it")
}

// TestGHCRReleaseRerunSkipsAPushedTag runs the ghcr release job's "Build
// and push" step with a stand-in for docker: a tag the registry has is not
// built again, a missing one is built for both architectures and pushed,
// and any other answer fails before a build.
func TestGHCRReleaseRerunSkipsAPushedTag(t *testing.T) {
	t.Parallel()
	res, err := evaluateGHCR(t, "dev", nil)
	require.NoError(t, err)
	script := buildStep(t, []byte(repoFile(t, res, "tech-seminar-source", ".github/workflows/ci.yaml")))
	const repo = "ghcr.io/gitops-seminar/gitops-monitor"
	for name, c := range map[string]struct {
		inspect  string
		wantErr  bool
		wantPush bool
	}{
		"re-run: tag pushed": {inspect: "echo 'Name: " + repo + ":sha-1a2b3c4'"},
		"new tag":            {inspect: "echo 'ERROR: " + repo + ":sha-1a2b3c4: not found' >&2; exit 1", wantPush: true},
		"registry refuses":   {inspect: "echo 'ERROR: unauthorized: authentication required' >&2; exit 1", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			out, calls, err := runBuildStep(t, script, repo, map[string]string{
				"docker": "if [ \"$1 $2 $3\" = \"buildx imagetools inspect\" ]; then " + c.inspect + "; fi",
			})
			if c.wantErr {
				require.Error(t, err, "%s", out)
				assert.Contains(t, out, "unauthorized")
			} else {
				require.NoError(t, err, "%s", out)
			}
			assert.Contains(t, calls, "docker buildx imagetools inspect "+repo+":sha-1a2b3c4")
			assert.Equal(t, c.wantPush, strings.Contains(calls,
				"docker buildx build --platform linux/amd64,linux/arm64 --build-arg APP_VERSION=sha-1a2b3c4 -t "+repo+":sha-1a2b3c4 --push ."), "%s", calls)
		})
	}
}

// runBuildStep runs a release job's "Build and push" script with
// stand-ins (tool name → what it does after logging its argv), for the
// tag sha-1a2b3c4 of repo; it returns the output, the stand-ins' calls and
// the script's error.
func runBuildStep(t *testing.T, script, repo string, standIns map[string]string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	for tool, body := range standIns {
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/bash\necho \""+tool+" $*\" >> "+log+"\n"+body+"\n"), 0o755))
	}
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "TAG=sha-1a2b3c4", "IMAGE_REPOSITORY=" + repo}
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(log)
	return string(out), string(calls), err
}

// buildStep is the release job's "Build and push" script.
func buildStep(t *testing.T, ci []byte) string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(ci, &wf))
	for _, s := range wf.Jobs["release"].Steps {
		if s.Name == "Build and push" {
			return s.Run
		}
	}
	t.Fatal("the release job has no Build and push step")
	return ""
}

// repoFile is one file a stack commits.
func repoFile(t *testing.T, res *offline.Result, repo, path string) string {
	t.Helper()
	files, err := res.RepoFiles()
	require.NoError(t, err)
	for _, f := range files {
		if f.Repo == repo && f.Path == path {
			return f.Content
		}
	}
	t.Fatalf("%s commits no %s/%s", res.Stack.Name, repo, path)
	return ""
}

// TestGHCRPullSecret checks each cluster's ghcr login: with a token, a
// dockerconfigjson for ghcr.io in the app's namespace, secret, under the
// name the Deployment references; without one, an empty login and a
// warning that the package must be public.
func TestGHCRPullSecret(t *testing.T) {
	t.Parallel()
	with, err := evaluateGHCR(t, "staging", map[string]string{"ghcrPullUsername": "octocat", "ghcrPullToken": "ghp_pull"}, "ghcrPullToken")
	require.NoError(t, err)
	secret := named(t, with, typeSecret, "staging-ghcr-pull-secret")
	assert.Equal(t, "ghcr-pull", path(secret.Inputs, "metadata", "name").StringValue())
	assert.Equal(t, "gitops-monitor", fmt.Sprint(reveal(path(secret.Inputs, "metadata", "namespace"))))
	assert.Equal(t, "kubernetes.io/dockerconfigjson", secret.Inputs["type"].StringValue())
	require.True(t, secret.Inputs["stringData"].IsSecret(), "the login is a secret")
	data := path(secret.Inputs, "stringData", ".dockerconfigjson")
	var cfg struct {
		Auths map[string]struct{ Username, Password, Auth string } `json:"auths"`
	}
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprint(reveal(data))), &cfg))
	assert.Equal(t, "octocat", cfg.Auths["ghcr.io"].Username)
	assert.Equal(t, "ghp_pull", cfg.Auths["ghcr.io"].Password)
	assert.Equal(t, "b2N0b2NhdDpnaHBfcHVsbA==", cfg.Auths["ghcr.io"].Auth)
	reg := named(t, with, typeSecret, "staging-registration")
	assert.True(t, dependsOnURN(reg, secret), "the cluster registers once it can pull")
	for _, w := range with.Warnings {
		assert.NotContains(t, w, "ghcrPullToken")
	}

	without, err := evaluateGHCR(t, "staging", nil)
	require.NoError(t, err)
	secret = named(t, without, typeSecret, "staging-ghcr-pull-secret")
	assert.Equal(t, `{"auths":{}}`, fmt.Sprint(reveal(path(secret.Inputs, "stringData", ".dockerconfigjson"))))
	assert.Contains(t, strings.Join(without.Warnings, "\n"), "no ghcrPullToken: staging's cluster pulls")

	hub, err := evaluateGHCR(t, "dev", nil)
	require.NoError(t, err)
	base := repoFile(t, hub, "tech-seminar-gitops", "manifests/base/deployment.yaml")
	assert.Contains(t, base, "name: ghcr-pull", "the Deployment names the ghcr pull secret")
}

// dependsOnURN reports whether r depends on other, directly.
func dependsOnURN(r, other *offline.Resource) bool {
	for _, d := range r.Dependencies {
		if strings.HasSuffix(d, "::"+other.Name) {
			return true
		}
	}
	return false
}

// TestRegistryConfig checks the registry keys: each bad combination with the
// key it names.
func TestRegistryConfig(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		stack   string
		set     map[string]string
		secrets []string
		key     string
		want    string
	}{
		"unknown registry":      {"dev", map[string]string{"registry": "dockerhub"}, nil, "registry", "expected ecr"},
		"ECR key on ghcr":       {"dev", map[string]string{"registry": "ghcr", "awsRegion": "us-east-1"}, nil, "awsRegion", "configures ECR, but registry is ghcr"},
		"token without user":    {"dev", map[string]string{"registry": "ghcr", "ghcrPullToken": "x"}, []string{"ghcrPullToken"}, "ghcrPullUsername", "required with ghcrPullToken"},
		"user without token":    {"dev", map[string]string{"registry": "ghcr", "ghcrPullUsername": "octocat"}, nil, "ghcrPullToken", "required with ghcrPullUsername"},
		"ghcr login on ECR hub": {"dev", map[string]string{"ghcrPullUsername": "octocat"}, nil, "ghcrPullUsername", "only with registry: ghcr"},
		"plain token":           {"dev", map[string]string{"registry": "ghcr", "ghcrPullUsername": "octocat", "ghcrPullToken": "x"}, nil, "ghcrPullToken", "must be a secret"},
		"registry on a joiner":  {"staging", map[string]string{"registry": "ghcr"}, nil, "registry", "only the hub stack sets this"},
		"arm64 typo":            {"dev", map[string]string{"bootstrapImagePlatform": "arm64"}, nil, "bootstrapImagePlatform", "expected linux/amd64 or linux/arm64"},
	} {
		_, err := evaluateWith(t, c.stack, c.set, c.secrets...)
		var verr *infra.ValidationError
		require.ErrorAs(t, err, &verr, name)
		assert.Contains(t, verr.Keys(), infra.FullKey(c.key), name)
		assert.Contains(t, err.Error(), c.want, name)
	}
	// A joining stack of an ECR hub refuses a ghcr login once it reads the hub.
	_, err := evaluateWith(t, "staging", map[string]string{"ghcrPullUsername": "octocat", "ghcrPullToken": "x"}, "ghcrPullToken")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the hub's registry is ecr")
}

// TestGHCRPlatformPassesPolicyAndPreview runs the policy pack over every
// stack of a ghcr platform (the public repos a GitHub Free account needs
// are allowed by publicRepos) and previews each as a dry run: nothing the
// program makes is unknown beyond what the cloud computes.
func TestGHCRPlatformPassesPolicyAndPreview(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res, err := evaluateGHCR(t, env, nil)
		require.NoError(t, err, env)
		st, err := guardrails.StackFromConfig(env, res.Stack.ConfigValue)
		require.NoError(t, err)
		assert.Empty(t, violations(t, st, res.AnalyzerResources()...), env)

		preview := previewStack(t, env, ghcrHub, nil)
		var unexpected []string
		for _, u := range previewUnknowns(preview) {
			if _, ok := fromTheCloud[strings.ReplaceAll(u, env+"-", "<env>-")]; !ok {
				unexpected = append(unexpected, u)
			}
		}
		assert.Empty(t, unexpected, "%s: unknown at preview, though the program knows it", env)
	}
}
