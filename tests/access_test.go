package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/templates"
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const ssoClientSecret = "client-secret-never-in-clear"

// githubSSO and oidcSSO are a hub's settings for each kind of SSO.
func githubSSO() map[string]string {
	return map[string]string{
		"argocdSso": "github", "argocdUrl": "https://argocd.example.com", "argocdSsoClientId": "Iv1.0123abcd",
		"argocdSsoClientSecret": ssoClientSecret, "argocdSsoGithubTeams": "platform, sre",
		"argocdAdmins": "gitops-seminar:platform", "argocdDeployers": "gitops-seminar:developers",
		"argocdProdDeployers": "gitops-seminar:sre",
	}
}

func oidcSSO() map[string]string {
	return map[string]string{
		"argocdSso": "oidc", "argocdUrl": "https://argocd.example.com", "argocdSsoClientId": "argocd",
		"argocdSsoClientSecret": ssoClientSecret, "argocdOidcIssuer": "https://login.example.com/realms/platform",
		"argocdOidcGroupsClaim": "roles", "argocdProdDeployers": "prod-deployers",
	}
}

// argocdValues returns the argo-cd release's values, and the values as the
// engine holds them (secrets marked).
func argocdValues(t *testing.T, set map[string]string) (map[string]any, resource.PropertyMap) {
	t.Helper()
	res, err := evaluateWith(t, "dev", set, "argocdSsoClientSecret")
	require.NoError(t, err)
	release := named(t, res, typeRelease, "argocd")
	b, err := json.Marshal(res.Render())
	require.NoError(t, err)
	assert.NotContains(t, string(b), ssoClientSecret, "the render holds the client secret in clear")
	return reveal(release.Inputs["values"]).(map[string]any), release.Inputs["values"].ObjectValue()
}

// TestGitHubSSO checks Argo CD's values with GitHub SSO: Dex on, its
// GitHub connector limited to the owner and its teams, the client secret
// a Pulumi secret of its own in argocd-secret, referenced from dex.config.
func TestGitHubSSO(t *testing.T) {
	t.Parallel()
	values, raw := argocdValues(t, githubSSO())
	assert.Equal(t, true, values["dex"].(map[string]any)["enabled"])
	cm := values["configs"].(map[string]any)["cm"].(map[string]any)
	assert.Equal(t, "https://argocd.example.com", cm["url"])
	var dex struct {
		Connectors []struct {
			Type   string
			ID     string
			Config map[string]any
		}
	}
	require.NoError(t, yaml.Unmarshal([]byte(cm["dex.config"].(string)), &dex))
	require.Len(t, dex.Connectors, 1)
	c := dex.Connectors[0]
	assert.Equal(t, "github", c.Type)
	assert.Equal(t, "Iv1.0123abcd", c.Config["clientID"])
	assert.Equal(t, "$"+argocd.SecretKeyDexGitHub, c.Config["clientSecret"])
	assert.Equal(t, []any{map[string]any{"name": "gitops-seminar", "teams": []any{"platform", "sre"}}}, c.Config["orgs"])
	assert.NotContains(t, cm, "oidc.config")

	secret := raw["configs"].ObjectValue()["secret"].ObjectValue()["extra"].ObjectValue()[resource.PropertyKey(argocd.SecretKeyDexGitHub)]
	require.True(t, secret.IsSecret(), "the client secret is a Pulumi secret")
	assert.Equal(t, ssoClientSecret, reveal(secret))
	assert.False(t, raw["configs"].ObjectValue()["cm"].ContainsSecrets(), "the rest of the values stay readable")

	rbac := values["configs"].(map[string]any)["rbac"].(map[string]any)
	assert.Equal(t, "role:readonly", rbac["policy.default"])
	assert.Equal(t, "[groups]", rbac["scopes"])
	assert.Equal(t, strings.Join([]string{
		"p, role:deployer, applications, sync, gitops-monitor/gitops-monitor-dev, allow",
		"p, role:deployer, applications, sync, gitops-monitor/gitops-monitor-staging, allow",
		"p, role:prod-deployer, applications, sync, gitops-monitor/gitops-monitor-prod, allow",
		"p, role:prod-deployer, applications, delete, gitops-monitor/gitops-monitor-prod, allow",
		"g, gitops-seminar:platform, role:admin",
		"g, gitops-seminar:developers, role:deployer",
		"g, gitops-seminar:sre, role:prod-deployer",
	}, "\n")+"\n", rbac["policy.csv"])
}

// TestOIDCSSO checks an external issuer: no Dex, oidc.config with the
// issuer, the client and the groups claim, which RBAC reads as its scope.
func TestOIDCSSO(t *testing.T) {
	t.Parallel()
	values, raw := argocdValues(t, oidcSSO())
	assert.Equal(t, false, values["dex"].(map[string]any)["enabled"], "Dex only with GitHub")
	cm := values["configs"].(map[string]any)["cm"].(map[string]any)
	var oidc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm["oidc.config"].(string)), &oidc))
	assert.Equal(t, "https://login.example.com/realms/platform", oidc["issuer"])
	assert.Equal(t, "argocd", oidc["clientID"])
	assert.Equal(t, "$"+argocd.SecretKeyOIDC, oidc["clientSecret"])
	assert.Equal(t, map[string]any{"roles": map[string]any{"essential": true}}, oidc["requestedIDTokenClaims"])
	assert.Equal(t, []any{"openid", "profile", "email"}, oidc["requestedScopes"], "no groups scope for a custom claim")
	assert.NotContains(t, cm, "dex.config")
	assert.True(t, raw["configs"].ObjectValue()["secret"].ObjectValue()["extra"].ObjectValue()[resource.PropertyKey(argocd.SecretKeyOIDC)].IsSecret())
	assert.Equal(t, "[roles]", values["configs"].(map[string]any)["rbac"].(map[string]any)["scopes"])
}

// TestNoSSOByDefault checks the stack files' hub: no Dex, no SSO config,
// no client secret, everyone read-only.
func TestNoSSOByDefault(t *testing.T) {
	t.Parallel()
	values := reveal(named(t, evaluate(t, "dev"), typeRelease, "argocd").Inputs["values"]).(map[string]any)
	assert.Equal(t, false, values["dex"].(map[string]any)["enabled"])
	cm := values["configs"].(map[string]any)["cm"].(map[string]any)
	assert.NotContains(t, cm, "dex.config")
	assert.NotContains(t, cm, "oidc.config")
	assert.NotContains(t, values["configs"].(map[string]any)["rbac"], "policy.csv")
}

// TestChartMirrors checks both charts from an OCI mirror with credentials:
// the full oci:// reference, no Helm repository, the password a secret;
// the pinned-version rule of the policy pack still passes.
func TestChartMirrors(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "dev", map[string]string{
		"argocdChartRepository":                      "oci://registry.example.com/charts/",
		"argocdChartRepositoryUsername":              "robot",
		"argocdChartRepositoryPassword":              "mirror-token",
		"kubePrometheusStackChartRepository":         "https://charts.example.com/prometheus",
		"kubePrometheusStackChartRepositoryUsername": "robot",
		"kubePrometheusStackChartRepositoryPassword": "mirror-token",
	}, "argocdChartRepositoryPassword", "kubePrometheusStackChartRepositoryPassword")
	require.NoError(t, err)
	argo := named(t, res, typeRelease, "argocd")
	assert.Equal(t, "oci://registry.example.com/charts/argo-cd", argo.Inputs["chart"].StringValue())
	assert.Equal(t, "9.4.16", argo.Inputs["version"].StringValue())
	opts := argo.Inputs["repositoryOpts"].ObjectValue()
	assert.NotContains(t, opts, resource.PropertyKey("repo"), "an OCI chart has no Helm repository")
	assert.Equal(t, "robot", opts["username"].StringValue())
	assert.True(t, opts["password"].IsSecret())

	mon := named(t, res, typeRelease, "monitoring")
	assert.Equal(t, "kube-prometheus-stack", mon.Inputs["chart"].StringValue())
	monOpts := mon.Inputs["repositoryOpts"].ObjectValue()
	assert.Equal(t, "https://charts.example.com/prometheus", monOpts["repo"].StringValue())
	assert.True(t, monOpts["password"].IsSecret())

	st, err := guardrails.StackFromConfig("dev", res.Stack.ConfigValue)
	require.NoError(t, err)
	assert.Empty(t, violations(t, st, res.AnalyzerResources()...), "pinned charts pass in both forms")
}

// TestAwaitingSyncSaysWhoMaySync renders the message that prod waits for a
// person with Argo CD's notifications engine: it names the prod deployers'
// groups and links to the Application; without groups, it names admins.
// Only that message does.
func TestAwaitingSyncSaysWhoMaySync(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		set  map[string]string
		want string
	}{
		"prod deployers": {githubSSO(), "Who may sync it: gitops-seminar:sre."},
		"no groups":      {map[string]string{"argocdUrl": "https://argocd.example.com"}, "Who may sync it: Argo CD admins."},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			set := map[string]string{"slackToken": "xoxb-who"}
			for k, v := range c.set {
				set[k] = v
			}
			res, err := evaluateWith(t, "dev", set, "slackToken", "argocdSsoClientSecret")
			require.NoError(t, err)
			cfg, err := api.ParseConfig(notificationObjects(t, res))
			require.NoError(t, err)
			tmpl, err := templates.NewService(cfg.Templates)
			require.NoError(t, err)
			app := map[string]any{"app": sampleApp(false, "", "Healthy", "OutOfSync"), "context": map[string]any{}}
			n, err := tmpl.FormatNotification(app, "app-awaiting-manual-sync")
			require.NoError(t, err)
			assert.Contains(t, n.Message, c.want)
			assert.Contains(t, n.Message, "https://argocd.example.com/applications/gitops-monitor-prod")
			assert.Contains(t, n.Slack.Attachments, c.want)
			deployed, err := tmpl.FormatNotification(app, "app-deployed")
			require.NoError(t, err)
			assert.NotContains(t, deployed.Message, "Who may sync")
		})
	}
}
