package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/ciidentity"
	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/components/pullsecret"
	"github.com/gitops-platform/gitops-platform/components/registry"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type policyDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]string
		Action    []string
		Resource  []string
		Condition map[string]map[string]string
	}
}

func parsePolicy(t *testing.T, s string) policyDoc {
	t.Helper()
	var d policyDoc
	require.NoError(t, json.Unmarshal([]byte(s), &d), s)
	require.Equal(t, "2012-10-17", d.Version)
	return d
}

// TestCIRoleTrustsOneRepoAndEnvironment checks the CI role's trust: GitHub's
// OIDC tokens for jobs of the source repo that run in its release
// environment (which only main may use), audience STS, exactly; a subject
// widened to repo:<owner>/* (or any pattern) fails it.
func TestCIRoleTrustsOneRepoAndEnvironment(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	oidc := one(t, res, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	assert.Equal(t, "https://token.actions.githubusercontent.com", oidc.Inputs["url"].StringValue())
	assert.Equal(t, []any{"sts.amazonaws.com"}, reveal(oidc.Inputs["clientIdLists"]))

	trustJSON := one(t, res, "aws:iam/role:Role").Inputs["assumeRolePolicy"].StringValue()
	trust := parsePolicy(t, trustJSON)
	require.Len(t, trust.Statement, 1)
	st := trust.Statement[0]
	assert.Equal(t, "Allow", st.Effect)
	assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
	assert.Equal(t, map[string]string{"Federated": offline.ComputedPlaceholder("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "ci-github-oidc", "arn")}, st.Principal)
	assert.Equal(t, map[string]map[string]string{"StringEquals": {
		"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
		"token.actions.githubusercontent.com:sub": "repo:gitops-seminar/tech-seminar-source:environment:release",
	}}, st.Condition, "only exact matches: no StringLike, no other repo, no branch (any job on it)")
	assert.NotContains(t, trustJSON, "*", "no wildcard anywhere in the trust")
}

// TestCIRolePushesToOneRepository checks the CI's permissions: ECR login,
// and exactly the push actions on the app's repository, plus looking its
// tags up (a re-run does not push a tag twice).
func TestCIRolePushesToOneRepository(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	policy := parsePolicy(t, one(t, res, "aws:iam/rolePolicy:RolePolicy").Inputs["policy"].StringValue())
	require.Len(t, policy.Statement, 3)
	assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, policy.Statement[0].Action)
	assert.Equal(t, []string{"*"}, policy.Statement[0].Resource, "GetAuthorizationToken has no resource-level permission")
	assert.Equal(t, []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload",
		"ecr:PutImage", "ecr:UploadLayerPart"}, policy.Statement[1].Action, "AWS's documented push policy, and nothing more")
	assert.Equal(t, []string{offline.ComputedPlaceholder(typeECR, "gitops-monitor", "arn")}, policy.Statement[1].Resource)
	assert.Equal(t, []string{"ecr:DescribeImages"}, policy.Statement[2].Action)
	assert.Equal(t, policy.Statement[1].Resource, policy.Statement[2].Resource, "the app's repository only")
	assert.Equal(t, "repo:o/r:environment:release", ciidentity.Subject("o", "r", "release"))
}

// TestExistingOIDCProviderIsReused checks that with an existing provider's
// ARN no second provider is created and the role trusts that one.
func TestExistingOIDCProviderIsReused(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	res, err := evaluateWith(t, "dev", map[string]string{"githubOidcProviderArn": arn})
	require.NoError(t, err)
	assert.Empty(t, byType(res, "aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
	trust := parsePolicy(t, one(t, res, "aws:iam/role:Role").Inputs["assumeRolePolicy"].StringValue())
	assert.Equal(t, arn, trust.Statement[0].Principal["Federated"])
}

// TestRegistryProtection checks forceDelete and protect: the seminar's dev
// hub may delete its images; a production hub protects them.
func TestRegistryProtection(t *testing.T) {
	t.Parallel()
	lab := one(t, evaluate(t, "dev"), typeECR)
	assert.True(t, lab.Inputs["forceDelete"].BoolValue())
	assert.False(t, lab.Protect)
	res, err := evaluateWith(t, "dev", map[string]string{"registryForceDelete": "false", "registryProtect": "true", "registryKeepImages": "100"})
	require.NoError(t, err)
	prod := one(t, res, typeECR)
	assert.False(t, prod.Inputs["forceDelete"].BoolValue())
	assert.True(t, prod.Protect)
	assert.Contains(t, one(t, res, typeLifecycle).Inputs["policy"].StringValue(), `"countNumber":100`)
}

// TestLifecyclePolicyGolden checks the lifecycle policy JSON byte for byte:
// ECR returns rules in ascending priority, so any other order would show a
// change on every preview.
func TestLifecyclePolicyGolden(t *testing.T) {
	t.Parallel()
	got, err := registry.LifecyclePolicy(30)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "lifecycle-policy.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got+"\n"), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), got)
}

// TestPullSecretRefresh checks each cluster's ECR pull credential: a user
// that can only read the app's repository, its key in a Secret, and a
// CronJob (plus a first Job) with pinned images that rewrites the pull
// secret the Deployment references, every 6 hours.
func TestPullSecretRefresh(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		policy := parsePolicy(t, one(t, res, "aws:iam/userPolicy:UserPolicy").Inputs["policy"].StringValue())
		assert.Equal(t, []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}, policy.Statement[1].Action)
		assert.Equal(t, []string{offline.ComputedPlaceholder(typeECR, "gitops-monitor", "arn")}, policy.Statement[1].Resource)

		cred := named(t, res, typeSecret, env+"-ecr-pull-aws")
		require.True(t, cred.Inputs["stringData"].IsSecret())
		data := reveal(cred.Inputs["stringData"]).(map[string]any)
		assert.Equal(t, offline.ComputedPlaceholder("aws:iam/accessKey:AccessKey", env+"-ecr-pull-key", "secret"), data["AWS_SECRET_ACCESS_KEY"])
		assert.Equal(t, "ap-northeast-2", data["AWS_REGION"])
		assert.Equal(t, pullsecret.SecretName, data["PULL_SECRET_NAME"])
		assert.Equal(t, env, providerOf(cred))
		assert.Equal(t, "ecr-pull", path(cred.Inputs, "metadata", "namespace").StringValue(), "the key is out of the app's namespace")
		ns := named(t, res, "kubernetes:core/v1:Namespace", env+"-ecr-pull-namespace")
		assert.Equal(t, "restricted", path(ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/enforce").StringValue())

		// In the app's namespace: the pull secret, which the program makes
		// and the refresher may only update.
		pull := named(t, res, typeSecret, env+"-ecr-pull-secret")
		assert.Equal(t, "gitops-monitor", path(pull.Inputs, "metadata", "namespace").StringValue())
		assert.Equal(t, "kubernetes.io/dockerconfigjson", pull.Inputs["type"].StringValue())
		assert.Contains(t, pull.IgnoreChanges, "data", "its data is the refresher's")
		role := named(t, res, "kubernetes:rbac.authorization.k8s.io/v1:Role", env+"-ecr-pull-refresher")
		assert.Equal(t, "gitops-monitor", path(role.Inputs, "metadata", "namespace").StringValue())
		assert.Equal(t, []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "resourceNames": []any{"ecr-pull"},
			"verbs": []any{"get", "patch", "update"}}}, reveal(role.Inputs["rules"]), "the one pull secret, no create")

		cron := one(t, res, "kubernetes:batch/v1:CronJob")
		assert.Equal(t, "ecr-pull", path(cron.Inputs, "metadata", "namespace").StringValue())
		spec := reveal(cron.Inputs["spec"]).(map[string]any)
		assert.Equal(t, "0 */6 * * *", spec["schedule"], "a 12-hour token gets two refreshes")
		pod := spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		var images []string
		for _, kind := range []string{"initContainers", "containers"} {
			for _, c := range pod[kind].([]any) {
				img := c.(map[string]any)["image"].(string)
				images = append(images, img)
				assert.Regexp(t, `:[0-9v][0-9.]+$`, img, "pinned to an exact version")
			}
		}
		assert.Equal(t, []string{pullsecret.AWSCLIImage, pullsecret.KubectlImage}, images)
		assert.Equal(t, map[string]any{"seccompProfile": map[string]any{"type": "RuntimeDefault"}}, pod["securityContext"], "restricted Pod Security")
		env0 := pod["initContainers"].([]any)[0].(map[string]any)["env"].([]any)
		assert.Contains(t, env0, map[string]any{"name": "TARGET_NAMESPACE", "value": "gitops-monitor"}, "writes the pull secret where the app runs")
		assert.NotEmpty(t, byType(res, "kubernetes:batch/v1:Job"), "a first refresh runs at once")

		dir := t.TempDir()
		require.NoError(t, res.Write(dir))
		assertNoStringInTree(t, dir, "accessKey:AccessKey "+env+"-ecr-pull-key.secret")
	}
	files, err := evaluate(t, "dev").RepoFiles()
	require.NoError(t, err)
	for _, f := range files {
		if f.Path == "manifests/base/deployment.yaml" {
			assert.Contains(t, f.Content, "imagePullSecrets:\n        - name: "+pullsecret.SecretName)
		}
	}
}

// TestBootstrapImage checks the first image: built from exactly the source
// repo's seeded files, tagged from their content, pushed with a secret
// registry password, and the tag every overlay starts from (the joining
// stacks read it from the hub). Under mocks no build context is written.
func TestBootstrapImage(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	img := one(t, res, "docker:index/image:Image")
	files, err := res.RepoFiles()
	require.NoError(t, err)
	var source []repos.File
	for _, f := range files {
		if f.Repo == "tech-seminar-source" {
			source = append(source, repos.File{Path: f.Path, Content: f.Content})
		}
	}
	require.NotEmpty(t, source)
	tag := image.Tag(source)
	assert.Regexp(t, `^sha-bootstrap-[0-9a-f]{12}$`, tag)
	assert.Equal(t, ".bootstrap-image/"+tag, path(img.Inputs, "build", "context").StringValue())
	assert.True(t, strings.HasSuffix(img.Inputs["imageName"].StringValue(), ":"+tag))
	assert.True(t, path(img.Inputs, "registry").IsObject())
	require.True(t, img.Inputs["registry"].ObjectValue()["password"].IsSecret(), "the registry password is a secret")
	_, err = os.Stat(filepath.Join(".", image.ContextRoot))
	assert.True(t, os.IsNotExist(err), "the offline run writes no build context")

	changed := append([]repos.File(nil), source...)
	changed[0].Content += "\n"
	assert.NotEqual(t, tag, image.Tag(changed), "a changed app gets a new tag (tags are immutable)")

	for _, env := range stacks {
		files, err := evaluate(t, env).RepoFiles()
		require.NoError(t, err)
		for _, f := range files {
			if f.Path == "manifests/"+env+"/kustomization.yaml" {
				assert.Contains(t, f.Content, "newTag: "+tag, env)
			}
		}
	}
}

// TestWithoutDocker checks bootstrapImage: false: no image is built, the
// program warns, and the overlays start from the tag config names.
func TestWithoutDocker(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "dev", map[string]string{"bootstrapImage": "false", "bootstrapImageTag": "sha-0a1b2c3"})
	require.NoError(t, err)
	assert.Empty(t, byType(res, "docker:index/image:Image"))
	assert.Contains(t, strings.Join(res.Warnings, "\n"), "bootstrapImage is off")
	files, err := res.RepoFiles()
	require.NoError(t, err)
	for _, f := range files {
		if f.Path == "manifests/dev/kustomization.yaml" {
			assert.Contains(t, f.Content, "newTag: sha-0a1b2c3")
		}
	}
}
