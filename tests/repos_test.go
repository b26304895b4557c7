package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCIGetsItsSettings checks what the source repo's workflow reads: the
// write deploy key of the gitops repo as a secret, and the rest as variables.
func TestCIGetsItsSettings(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	secret := one(t, res, "github:index/actionsSecret:ActionsSecret")
	assert.Equal(t, repos.SecretGitopsDeployKey, secret.Inputs["secretName"].StringValue())
	assert.Equal(t, "tech-seminar-source", secret.Inputs["repository"].StringValue())
	require.True(t, secret.Inputs["plaintextValue"].IsSecret(), "the private key is a secret")
	assert.Equal(t, "[computed tls:index/privateKey:PrivateKey repos-ci-key.privateKeyOpenssh]", reveal(secret.Inputs["plaintextValue"]))

	keys := map[string]bool{}
	for _, k := range byType(res, "github:index/repositoryDeployKey:RepositoryDeployKey") {
		assert.Equal(t, "tech-seminar-gitops", k.Inputs["repository"].StringValue())
		keys[k.Name] = k.Inputs["readOnly"].BoolValue()
	}
	assert.Equal(t, map[string]bool{"repos-argocd-key": true, "repos-ci-key": false}, keys, "Argo CD reads; only the CI writes")

	vars := map[string]any{}
	for _, v := range byType(res, "github:index/actionsVariable:ActionsVariable") {
		assert.Equal(t, "tech-seminar-source", v.Inputs["repository"].StringValue())
		assert.False(t, v.Inputs["value"].IsSecret(), "variables hold nothing secret")
		vars[v.Inputs["variableName"].StringValue()] = reveal(v.Inputs["value"])
	}
	assert.Equal(t, map[string]any{
		"AWS_REGION":     "ap-northeast-2",
		"AWS_ROLE_ARN":   "[computed aws:iam/role:Role ci-role.arn]",
		"ECR_REPOSITORY": "[computed aws:ecr/repository:Repository gitops-monitor.repositoryUrl]",
		"GITOPS_REPO":    "gitops-seminar/tech-seminar-gitops",
		"APP_NAME":       "gitops-monitor",
	}, vars)

	ci, err := os.ReadFile(filepath.Join(renderRepos(t), "tech-seminar-source", ".github", "workflows", "ci.yaml"))
	require.NoError(t, err)
	for name := range vars {
		assert.Contains(t, string(ci), "vars."+name, "the workflow reads %s", name)
	}
	assert.Contains(t, string(ci), "secrets."+repos.SecretGitopsDeployKey)
	assert.Contains(t, string(ci), "\n  "+repos.TestCheck+":\n", "the required check is the workflow's test job")
}

// TestRulesets checks the protection of both main branches.
func TestRulesets(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	gitops := reveal(named(t, res, "github:index/repositoryRuleset:RepositoryRuleset", "repos-gitops-main").Inputs["rules"]).(map[string]any)
	assert.Equal(t, true, gitops["deletion"])
	assert.Equal(t, true, gitops["nonFastForward"])
	assert.Equal(t, 1.0, gitops["pullRequest"].(map[string]any)["requiredApprovingReviewCount"])
	bypass := reveal(named(t, res, "github:index/repositoryRuleset:RepositoryRuleset", "repos-gitops-main").Inputs["bypassActors"])
	assert.Equal(t, []any{map[string]any{"actorType": "DeployKey", "bypassMode": "always"}}, bypass, "the CI's deploy key pushes tag bumps")

	source := named(t, res, "github:index/repositoryRuleset:RepositoryRuleset", "repos-source-main")
	assert.Equal(t, "tech-seminar-source", source.Inputs["repository"].StringValue())
	checks := reveal(source.Inputs["rules"]).(map[string]any)["requiredStatusChecks"].(map[string]any)["requiredChecks"]
	assert.Equal(t, []any{map[string]any{"context": "test"}}, checks)
	assert.Nil(t, source.Inputs["bypassActors"].V, "nobody skips the tests")
}

// TestWebhookToArgoCD checks that with argocdUrl the gitops repo calls
// Argo CD's webhook with a generated secret Argo CD checks, and that
// without it there is no webhook.
func TestWebhookToArgoCD(t *testing.T) {
	t.Parallel()
	assert.Empty(t, byType(evaluate(t, "dev"), "github:index/repositoryWebhook:RepositoryWebhook"))

	res, err := evaluateWith(t, "dev", map[string]string{"argocdUrl": "https://argocd.example.com"})
	require.NoError(t, err)
	hook := one(t, res, "github:index/repositoryWebhook:RepositoryWebhook")
	assert.Equal(t, "tech-seminar-gitops", hook.Inputs["repository"].StringValue())
	conf := hook.Inputs["configuration"].ObjectValue()
	assert.Equal(t, "https://argocd.example.com/api/webhook", conf["url"].StringValue())
	assert.Equal(t, "json", conf["contentType"].StringValue())
	require.True(t, conf["secret"].IsSecret())

	values := named(t, res, typeRelease, "argocd").Inputs["values"]
	require.False(t, values.IsSecret(), "only the webhook secret is secret, the rest of the values stay readable")
	githubSecret := path(values.ObjectValue(), "configs", "secret", "githubSecret")
	require.True(t, githubSecret.IsSecret() || (githubSecret.IsOutput() && githubSecret.OutputValue().Secret), "the webhook secret is a Pulumi secret")
	configs := reveal(values).(map[string]any)["configs"].(map[string]any)
	assert.Equal(t, reveal(conf["secret"]), configs["secret"].(map[string]any)["githubSecret"], "Argo CD checks the same secret")
	assert.Equal(t, "role:readonly", configs["rbac"].(map[string]any)["policy.default"], "the rest of the values stay")
}

// TestPublicRepos checks publicRepos turns both repos public, and only then.
func TestPublicRepos(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "dev", map[string]string{"publicRepos": "true"})
	require.NoError(t, err)
	repos := byType(res, typeRepo)
	require.Len(t, repos, 2)
	for _, r := range repos {
		assert.Equal(t, "public", r.Inputs["visibility"].StringValue(), r.Name)
	}
}
