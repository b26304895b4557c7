package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestCIGetsItsSettings checks what the source repo's workflow reads: the
// write deploy key of the gitops repo as a secret of the `release`
// environment, which only main may deploy to, and the rest as variables.
func TestCIGetsItsSettings(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	assert.Empty(t, byType(res, "github:index/actionsSecret:ActionsSecret"), "no repository-level secret: every branch's workflows could read it")
	secret := one(t, res, "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
	assert.Equal(t, repos.SecretGitopsDeployKey, secret.Inputs["secretName"].StringValue())
	assert.Equal(t, "tech-seminar-source", secret.Inputs["repository"].StringValue())
	assert.Equal(t, repos.ReleaseEnvironment, secret.Inputs["environment"].StringValue())
	assert.True(t, dependsOn(secret, "github:index/repositoryEnvironment:RepositoryEnvironment", "repos-release"))
	require.True(t, secret.Inputs["value"].IsSecret(), "the private key is a secret")
	assert.Equal(t, "[computed tls:index/privateKey:PrivateKey repos-ci-key.privateKeyOpenssh]", reveal(secret.Inputs["value"]))
	assert.True(t, dependsOn(secret, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy", "repos-release-main"),
		"the key lands only once main is the only branch that may deploy there")

	env := one(t, res, "github:index/repositoryEnvironment:RepositoryEnvironment")
	assert.Equal(t, repos.ReleaseEnvironment, env.Inputs["environment"].StringValue())
	assert.Equal(t, "tech-seminar-source", env.Inputs["repository"].StringValue())
	assert.Equal(t, false, env.Inputs["canAdminsBypass"].BoolValue())
	assert.Equal(t, map[string]any{"customBranchPolicies": true, "protectedBranches": false}, reveal(env.Inputs["deploymentBranchPolicy"]),
		"only the branches the policies name, not every protected branch")
	policy := one(t, res, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")
	assert.Equal(t, "main", policy.Inputs["branchPattern"].StringValue())
	assert.Nil(t, reveal(policy.Inputs["tagPattern"]), "no tag may deploy there")

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
	// Exactly one job reads the key or gets an OIDC token, and it runs in
	// the release environment: the CI role trusts that environment only.
	var wf struct {
		Jobs map[string]struct {
			Environment string            `yaml:"environment"`
			Permissions map[string]string `yaml:"permissions"`
			Steps       []struct {
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(ci, &wf))
	holders := map[string]string{}
	for name, job := range wf.Jobs {
		for _, st := range job.Steps {
			for _, v := range st.With {
				if strings.Contains(v, "secrets."+repos.SecretGitopsDeployKey) {
					holders[name] = job.Environment
				}
			}
		}
		if job.Permissions["id-token"] == "write" {
			assert.Equal(t, repos.ReleaseEnvironment, job.Environment, "%s assumes the CI role", name)
		}
	}
	assert.Equal(t, map[string]string{"release": repos.ReleaseEnvironment}, holders, "only the release job, in the release environment, reads the write key")
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
	admins := map[string]any{"actorId": 5.0, "actorType": "RepositoryRole", "bypassMode": "always"}
	bypass := reveal(named(t, res, "github:index/repositoryRuleset:RepositoryRuleset", "repos-gitops-main").Inputs["bypassActors"])
	assert.ElementsMatch(t, []any{map[string]any{"actorType": "DeployKey", "bypassMode": "always"}, admins}, bypass,
		"the CI's deploy key pushes tag bumps; Pulumi, as a repository admin, commits overlays and deletes files")

	source := named(t, res, "github:index/repositoryRuleset:RepositoryRuleset", "repos-source-main")
	assert.Equal(t, "tech-seminar-source", source.Inputs["repository"].StringValue())
	checks := reveal(source.Inputs["rules"]).(map[string]any)["requiredStatusChecks"].(map[string]any)["requiredChecks"]
	assert.Equal(t, []any{map[string]any{"context": "test", "integrationId": 15368.0}}, checks, "reported by GitHub Actions only")
	sourceRules := reveal(source.Inputs["rules"]).(map[string]any)
	assert.Equal(t, 1.0, sourceRules["pullRequest"].(map[string]any)["requiredApprovingReviewCount"], "main takes reviewed changes only")
	assert.Equal(t, []any{admins}, reveal(source.Inputs["bypassActors"]), "only repository admins (Pulumi's token) skip the tests")

	// The rulesets come after every seeded file, which they would refuse.
	for _, ruleset := range byType(res, "github:index/repositoryRuleset:RepositoryRuleset") {
		for _, f := range byType(res, typeRepoFile) {
			if f.Parent == "" || !strings.HasSuffix(f.Parent, "::repos") {
				continue // the workflow and the overlays come after the rulesets
			}
			assert.True(t, dependsOn(ruleset, typeRepoFile, f.Name), "%s waits for %s", ruleset.Name, f.Name)
		}
	}
}

// TestWorkflowIsCommittedLast checks that the CI workflow, whose first run
// starts with its commit, is committed after everything that run reads:
// the Actions variables and secret and the hub's overlay; and that it
// keeps the URN an earlier version gave it (an alias to the repos component).
func TestWorkflowIsCommittedLast(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	var workflow *offline.Resource
	for _, f := range byType(res, typeRepoFile) {
		if f.Inputs["file"].StringValue() == ".github/workflows/ci.yaml" {
			workflow = f
		}
	}
	require.NotNil(t, workflow)
	assert.Equal(t, "repos-source--github-workflows-ci-yaml", workflow.Name, "the name an earlier version gave it")
	for _, typ := range []string{"github:index/actionsVariable:ActionsVariable", "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"} {
		for _, r := range byType(res, typ) {
			assert.True(t, dependsOn(workflow, typ, r.Name), "the workflow waits for %s", r.Name)
		}
	}
	assert.True(t, dependsOn(workflow, typeRepoFile, "dev-overlay-kustomization"), "the workflow waits for the hub's overlay")
	last := res.Resources[len(res.Resources)-1]
	assert.Contains(t, []string{workflow.Name, "ci-workflow"}, last.Name, "nothing is registered after the workflow")
}

// TestReposOnDestroy checks that the repos are archived on destroy unless
// the stack asks to delete them, and that a seeded file is never deleted
// on its own (the repository's fate decides), while a bad value is refused.
func TestReposOnDestroy(t *testing.T) {
	t.Parallel()
	for value, archive := range map[string]bool{"": true, "archive": true, "delete": false} {
		set := map[string]string{}
		if value != "" {
			set["reposOnDestroy"] = value
		}
		res, err := evaluateWith(t, "dev", set)
		require.NoError(t, err)
		for _, r := range byType(res, typeRepo) {
			assert.Equal(t, archive, r.Inputs["archiveOnDestroy"].BoolValue(), "reposOnDestroy %q: %s", value, r.Name)
		}
	}
	_, err := evaluateWith(t, "dev", map[string]string{"reposOnDestroy": "keep"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `gitops-platform:reposOnDestroy: "keep": expected archive`)
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

// TestNoWebhookGitHubWouldRefuse checks that an argocdUrl GitHub cannot
// reach (it answers 422 to localhost, loopback and private addresses)
// gets no webhook, which would fail the hub's up, but a warning attached
// to the repos component that says Argo CD polls instead; Argo CD still
// checks a webhook secret, so a forged push is refused. A public URL, by
// name or address, gets the webhook.
func TestNoWebhookGitHubWouldRefuse(t *testing.T) {
	t.Parallel()
	for url, refused := range map[string]string{
		"http://localhost:8080":         "localhost",
		"http://127.0.0.1:8080":         "loopback",
		"https://argocd.localhost":      "localhost",
		"http://192.168.49.2:30080":     "private address",
		"https://10.1.2.3":              "private address",
		"https://[fd00::1]":             "private address",
		"https://100.64.0.1":            "private address",
		"https://argocd":                "single-label",
		"https://argocd.lab.internal":   ".internal",
		"https://argocd.local":          ".local",
		"https://argocd.example.com":    "",
		"https://203.0.113.7:8443":      "",
		"https://argocd.example.com.":   "",
		"https://argo.cd.company.co.kr": "",
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			res, err := evaluateWith(t, "dev", map[string]string{"argocdUrl": url})
			require.NoError(t, err)
			hooks := byType(res, "github:index/repositoryWebhook:RepositoryWebhook")
			secret := path(named(t, res, typeRelease, "argocd").Inputs["values"].ObjectValue(), "configs", "secret", "githubSecret")
			assert.False(t, secret.IsNull(), "Argo CD checks a webhook secret either way")
			warnings := strings.Join(res.Warnings, "\n")
			if refused == "" {
				assert.Len(t, hooks, 1, "GitHub can reach %s", url)
				assert.NotContains(t, warnings, "no webhook")
				return
			}
			assert.Empty(t, hooks, "GitHub refuses a webhook to %s", url)
			assert.Contains(t, warnings, "no webhook from the gitops repo to "+url)
			assert.Contains(t, warnings, refused)
			assert.Contains(t, warnings, "polls the repo every 3 minutes")
			for _, w := range res.Warnings {
				if strings.Contains(w, "no webhook") {
					assert.Contains(t, res.WarningOn[w], "gitops-platform:repos:Repos", "the repos component decides it and says so")
				}
			}
		})
	}
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
