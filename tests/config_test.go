package tests

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(k string) string { return "gitops-platform:" + k }

// hubRaw and envRaw are minimal valid configs of a hub and a joining stack.
func hubRaw() map[string]string {
	return map[string]string{
		key("environment"): "dev", key("hub"): "true", key("kubeContext"): "dev",
		key("syncMode"): "auto", key("githubOwner"): "octo-org",
	}
}

func envRaw() map[string]string {
	return map[string]string{
		key("environment"): "staging", key("hubStack"): "dev", key("kubeContext"): "staging",
		key("clusterServer"): "https://192.168.49.3:8443", key("syncMode"): "auto", key("replicas"): "2",
	}
}

const remove = "\x00remove"

// TestConfigRejectsMalformed checks that each malformed configuration is
// refused with exactly the keys at fault named, and that the message shows
// the bad value and what is expected.
func TestConfigRejectsMalformed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	cases := []struct {
		name    string
		base    func() map[string]string
		set     map[string]string
		secrets []string
		want    []string // full keys, in report order
	}{
		{"missing environment", hubRaw, map[string]string{key("environment"): remove}, nil, []string{key("environment")}},
		{"unknown environment", hubRaw, map[string]string{key("environment"): "qa"}, nil, []string{key("environment")}},
		{"environment in upper case", hubRaw, map[string]string{key("environment"): "Dev"}, nil, []string{key("environment")}},
		{"hub not a boolean", hubRaw, map[string]string{key("hub"): "yes"}, nil, []string{key("hub")}},
		{"hub as a number", envRaw, map[string]string{key("hub"): "1"}, nil, []string{key("hub")}},
		{"non-hub without hubStack", envRaw, map[string]string{key("hubStack"): remove}, nil, []string{key("hubStack")}},
		{"hub naming a hub", hubRaw, map[string]string{key("hubStack"): "prod"}, nil, []string{key("hubStack")}},
		{"hubStack with two parts", envRaw, map[string]string{key("hubStack"): "org/dev"}, nil, []string{key("hubStack")}},
		{"hubStack with a space", envRaw, map[string]string{key("hubStack"): "org/proj/de v"}, nil, []string{key("hubStack")}},
		{"missing kubeContext", hubRaw, map[string]string{key("kubeContext"): remove}, nil, []string{key("kubeContext")}},
		{"blank kubeContext", hubRaw, map[string]string{key("kubeContext"): "  "}, nil, []string{key("kubeContext")}},
		{"kubeContext with a space", hubRaw, map[string]string{key("kubeContext"): "my context"}, nil, []string{key("kubeContext")}},
		{"non-hub without clusterServer", envRaw, map[string]string{key("clusterServer"): remove}, nil, []string{key("clusterServer")}},
		{"http instead of https", envRaw, map[string]string{key("clusterServer"): "http://192.168.49.3:8443"}, nil, []string{key("clusterServer")}},
		{"server without a host", envRaw, map[string]string{key("clusterServer"): "https://:8443"}, nil, []string{key("clusterServer")}},
		{"server port out of range", envRaw, map[string]string{key("clusterServer"): "https://192.168.49.3:70000"}, nil, []string{key("clusterServer")}},
		{"server on loopback", envRaw, map[string]string{key("clusterServer"): "https://127.0.0.1:65007"}, nil, []string{key("clusterServer")}},
		{"server on localhost", envRaw, map[string]string{key("clusterServer"): "https://localhost:8443"}, nil, []string{key("clusterServer")}},
		{"server with a path", envRaw, map[string]string{key("clusterServer"): "https://192.168.49.3:8443/api"}, nil, []string{key("clusterServer")}},
		{"server not a URL", envRaw, map[string]string{key("clusterServer"): "192.168.49.3:8443"}, nil, []string{key("clusterServer")}},
		{"hub with a clusterServer", hubRaw, map[string]string{key("clusterServer"): "https://192.168.49.2:8443"}, nil, []string{key("clusterServer")}},
		{"unknown SSO kind", hubRaw, map[string]string{key("argocdSso"): "saml"}, nil, []string{key("argocdSso")}},
		{"SSO without URL, client ID or secret", hubRaw, map[string]string{key("argocdSso"): "github"}, nil,
			[]string{key("argocdUrl"), key("argocdSsoClientId"), key("argocdSsoClientSecret")}},
		{"SSO client secret in plain text", hubRaw, map[string]string{key("argocdSso"): "github", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "Iv1.abc", key("argocdSsoClientSecret"): "plain-client-secret"}, nil, []string{key("argocdSsoClientSecret")}},
		{"OIDC issuer over http", hubRaw, map[string]string{key("argocdSso"): "oidc", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "argocd", key("argocdSsoClientSecret"): "s", key("argocdOidcIssuer"): "http://login.example.com"},
			[]string{key("argocdSsoClientSecret")}, []string{key("argocdOidcIssuer")}},
		{"OIDC without an issuer", hubRaw, map[string]string{key("argocdSso"): "oidc", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "argocd", key("argocdSsoClientSecret"): "s"}, []string{key("argocdSsoClientSecret")}, []string{key("argocdOidcIssuer")}},
		{"an issuer with GitHub SSO", hubRaw, map[string]string{key("argocdSso"): "github", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "Iv1.abc", key("argocdSsoClientSecret"): "s", key("argocdOidcIssuer"): "https://login.example.com"},
			[]string{key("argocdSsoClientSecret")}, []string{key("argocdOidcIssuer")}},
		{"GitHub teams with OIDC", hubRaw, map[string]string{key("argocdSso"): "oidc", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "argocd", key("argocdSsoClientSecret"): "s", key("argocdOidcIssuer"): "https://login.example.com",
			key("argocdSsoGithubTeams"): "platform"}, []string{key("argocdSsoClientSecret")}, []string{key("argocdSsoGithubTeams")}},
		{"a deployer group without SSO", hubRaw, map[string]string{key("argocdDeployers"): "octo-org:dev"}, nil, []string{key("argocdDeployers")}},
		{"a client ID without SSO", hubRaw, map[string]string{key("argocdSsoClientId"): "Iv1.abc"}, nil, []string{key("argocdSsoClientId")}},
		{"a GitHub group of another org", hubRaw, map[string]string{key("argocdSso"): "github", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "Iv1.abc", key("argocdSsoClientSecret"): "s", key("argocdProdDeployers"): "other-org:sre"},
			[]string{key("argocdSsoClientSecret")}, []string{key("argocdProdDeployers")}},
		{"a GitHub group without a team", hubRaw, map[string]string{key("argocdSso"): "github", key("argocdUrl"): "https://argocd.example.com",
			key("argocdSsoClientId"): "Iv1.abc", key("argocdSsoClientSecret"): "s", key("argocdAdmins"): "octo-org"},
			[]string{key("argocdSsoClientSecret")}, []string{key("argocdAdmins")}},
		{"SSO on a joining stack", envRaw, map[string]string{key("argocdSso"): "github"}, nil, []string{key("argocdSso")}},
		{"a chart repository over http", hubRaw, map[string]string{key("argocdChartRepository"): "http://charts.example.com"}, nil, []string{key("argocdChartRepository")}},
		{"a chart repository neither https nor oci", envRaw, map[string]string{key("kubePrometheusStackChartRepository"): "s3://charts/prom"}, nil,
			[]string{key("kubePrometheusStackChartRepository")}},
		{"a chart username without a password", envRaw, map[string]string{key("kubePrometheusStackChartRepository"): "oci://registry.example.com/charts",
			key("kubePrometheusStackChartRepositoryUsername"): "robot"}, nil, []string{key("kubePrometheusStackChartRepositoryPassword")}},
		{"zero replicas", hubRaw, map[string]string{key("replicas"): "0"}, nil, []string{key("replicas")}},
		{"too many replicas", hubRaw, map[string]string{key("replicas"): "51"}, nil, []string{key("replicas")}},
		{"replicas in words", hubRaw, map[string]string{key("replicas"): "three"}, nil, []string{key("replicas")}},
		{"fractional replicas", hubRaw, map[string]string{key("replicas"): "2.5"}, nil, []string{key("replicas")}},
		{"missing syncMode", hubRaw, map[string]string{key("syncMode"): remove}, nil, []string{key("syncMode")}},
		{"unknown syncMode", hubRaw, map[string]string{key("syncMode"): "automatic"}, nil, []string{key("syncMode")}},
		{"region as a city", hubRaw, map[string]string{key("awsRegion"): "seoul"}, nil, []string{key("awsRegion")}},
		{"region in upper case", hubRaw, map[string]string{key("awsRegion"): "AP-NORTHEAST-2"}, nil, []string{key("awsRegion")}},
		{"chart version range", hubRaw, map[string]string{key("argocdChartVersion"): "^9.4.16"}, nil, []string{key("argocdChartVersion")}},
		{"chart version latest", hubRaw, map[string]string{key("argocdChartVersion"): "latest"}, nil, []string{key("argocdChartVersion")}},
		{"partial chart version", hubRaw, map[string]string{key("argocdChartVersion"): "9.4"}, nil, []string{key("argocdChartVersion")}},
		{"chart version with v", hubRaw, map[string]string{key("argocdChartVersion"): "v9.4.16"}, nil, []string{key("argocdChartVersion")}},
		{"chart version tilde", hubRaw, map[string]string{key("argocdChartVersion"): "~9.4.16"}, nil, []string{key("argocdChartVersion")}},
		{"monitoring chart range", envRaw, map[string]string{key("kubePrometheusStackChartVersion"): ">=77"}, nil, []string{key("kubePrometheusStackChartVersion")}},
		{"uppercase namespace", hubRaw, map[string]string{key("appNamespace"): "GitOps-Monitor"}, nil, []string{key("appNamespace")}},
		{"namespace with underscore", hubRaw, map[string]string{key("argocdNamespace"): "argo_cd"}, nil, []string{key("argocdNamespace")}},
		{"namespace too long", hubRaw, map[string]string{key("monitoringNamespace"): long}, nil, []string{key("monitoringNamespace")}},
		{"app name starting with -", hubRaw, map[string]string{key("appName"): "-app"}, nil, []string{key("appName")}},
		{"hub without githubOwner", hubRaw, map[string]string{key("githubOwner"): remove}, nil, []string{key("githubOwner")}},
		{"owner with bad characters", hubRaw, map[string]string{key("githubOwner"): "bad_owner!"}, nil, []string{key("githubOwner")}},
		{"owner starting with -", hubRaw, map[string]string{key("githubOwner"): "-lead"}, nil, []string{key("githubOwner")}},
		{"owner with double hyphen", hubRaw, map[string]string{key("githubOwner"): "a--b"}, nil, []string{key("githubOwner")}},
		{"owner too long", hubRaw, map[string]string{key("githubOwner"): strings.Repeat("o", 40)}, nil, []string{key("githubOwner")}},
		{"repo name with a space", hubRaw, map[string]string{key("sourceRepo"): "my repo"}, nil, []string{key("sourceRepo")}},
		{"repo named ..", hubRaw, map[string]string{key("gitopsRepo"): ".."}, nil, []string{key("gitopsRepo")}},
		{"repo name ending .git", hubRaw, map[string]string{key("gitopsRepo"): "deploy.git"}, nil, []string{key("gitopsRepo")}},
		{"one repo for both", hubRaw, map[string]string{key("gitopsRepo"): "tech-seminar-source"}, nil, []string{key("gitopsRepo")}},
		{"typo in a key", hubRaw, map[string]string{key("replica"): "2"}, nil, []string{key("replica")}},
		{"unknown key", hubRaw, map[string]string{key("colour"): "blue"}, nil, []string{key("colour")}},
		{"slack channel with spaces", hubRaw, map[string]string{key("slackChannel"): "Deploy Alerts"}, nil, []string{key("slackChannel")}},
		{"unknown slack method", hubRaw, map[string]string{key("slackMethod"): "email"}, nil, []string{key("slackMethod")}},
		{"slack token in clear text", hubRaw, map[string]string{key("slackToken"): "xoxb-123"}, nil, []string{key("slackToken")}},
		{"webhook set for bot method", hubRaw, map[string]string{key("slackWebhookUrl"): "https://hooks.slack.com/x"}, []string{key("slackWebhookUrl")}, []string{key("slackWebhookUrl")}},
		{"token set for webhook method", hubRaw, map[string]string{key("slackMethod"): "webhook", key("slackToken"): "xoxb-1"}, []string{key("slackToken")}, []string{key("slackToken")}},
		{"hub-only key on another stack", envRaw, map[string]string{key("githubOwner"): "octo-org"}, nil, []string{key("githubOwner")}},
		{"clusterInsecure not a boolean", envRaw, map[string]string{key("clusterInsecure"): "maybe"}, nil, []string{key("clusterInsecure")}},
		{"EKS role without a cluster", envRaw, map[string]string{key("eksRoleArn"): "arn:aws:iam::123456789012:role/argocd"}, nil, []string{key("eksRoleArn")}},
		{"Argo CD URL over http", hubRaw, map[string]string{key("argocdUrl"): "http://argocd.example.com"}, nil, []string{key("argocdUrl")}},
		{"Argo CD URL without a host", hubRaw, map[string]string{key("argocdUrl"): "argocd"}, nil, []string{key("argocdUrl")}},
		{"admin login not a boolean", hubRaw, map[string]string{key("argocdAdminEnabled"): "on"}, nil, []string{key("argocdAdminEnabled")}},
		{"registry keeps no image", hubRaw, map[string]string{key("registryKeepImages"): "0"}, nil, []string{key("registryKeepImages")}},
		{"registry keeps too many", hubRaw, map[string]string{key("registryKeepImages"): "1001"}, nil, []string{key("registryKeepImages")}},
		{"production data with the lab's registry defaults", hubRaw, map[string]string{key("productionData"): "true"}, nil, []string{key("registryForceDelete"), key("registryProtect")}},
		{"production data, registry not protected", hubRaw, map[string]string{key("productionData"): "true", key("registryForceDelete"): "false"}, nil, []string{key("registryProtect")}},
		{"production data on a spoke", envRaw, map[string]string{key("productionData"): "true"}, nil, []string{key("productionData")}},
		{"public repos not a boolean", hubRaw, map[string]string{key("publicRepos"): "yes"}, nil, []string{key("publicRepos")}},
		{"OIDC provider ARN of another issuer", hubRaw, map[string]string{key("githubOidcProviderArn"): "arn:aws:iam::123456789012:oidc-provider/gitlab.com"}, nil, []string{key("githubOidcProviderArn")}},
		{"OIDC provider ARN with a short account", hubRaw, map[string]string{key("githubOidcProviderArn"): "arn:aws:iam::1234:oidc-provider/token.actions.githubusercontent.com"}, nil, []string{key("githubOidcProviderArn")}},
		{"app name ECR would refuse", hubRaw, map[string]string{key("appName"): "Gitops_Monitor"}, nil, []string{key("appName")}},
		{"region on a non-hub stack", envRaw, map[string]string{key("awsRegion"): "us-east-1"}, nil, []string{key("awsRegion")}},
		{"no image and no tag", hubRaw, map[string]string{key("bootstrapImage"): "false"}, nil, []string{key("bootstrapImageTag")}},
		{"a tag while the program builds", hubRaw, map[string]string{key("bootstrapImageTag"): "v1"}, nil, []string{key("bootstrapImageTag")}},
		{"a tag docker refuses", hubRaw, map[string]string{key("bootstrapImage"): "false", key("bootstrapImageTag"): "-bad:tag"}, nil, []string{key("bootstrapImageTag")}},
		{"retention not a duration", envRaw, map[string]string{key("prometheusRetention"): "two days"}, nil, []string{key("prometheusRetention")}},
		{"retention without a unit", hubRaw, map[string]string{key("prometheusRetention"): "48"}, nil, []string{key("prometheusRetention")}},
		{"storage not a quantity", envRaw, map[string]string{key("prometheusStorageSize"): "10 GB"}, nil, []string{key("prometheusStorageSize")}},
		{"HA on a non-hub stack", envRaw, map[string]string{key("argocdHA"): "true"}, nil, []string{key("argocdHA")}},
		{"several problems at once", hubRaw, map[string]string{key("replicas"): "0", key("syncMode"): "sometimes", key("awsRegion"): "mars-1"},
			nil, []string{key("replicas"), key("syncMode"), key("awsRegion")}},
	}
	require.GreaterOrEqual(t, len(cases), 30)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := infra.Raw{Values: tc.base(), Secret: map[string]bool{}}
			for k, v := range tc.set {
				if v == remove {
					delete(raw.Values, k)
				} else {
					raw.Values[k] = v
				}
			}
			for _, k := range tc.secrets {
				raw.Secret[k] = true
			}
			cfg, err := infra.Parse(raw)
			require.Error(t, err)
			require.Nil(t, cfg)
			var verr *infra.ValidationError
			require.True(t, errors.As(err, &verr), "error %T is not a *ValidationError", err)
			assert.Equal(t, tc.want, verr.Keys())
			msg := err.Error()
			for _, k := range tc.want {
				assert.Contains(t, msg, k)
				v, ok := tc.set[k]
				switch {
				case !ok || v == remove:
				case raw.Secret[k] || strings.Contains(k, "Token") || strings.Contains(k, "Secret") || strings.Contains(k, "Password"):
					assert.NotContains(t, msg, v, "a secret's value must not be printed")
				default:
					assert.Contains(t, msg, fmt.Sprintf("%q", v))
				}
			}
		})
	}
}

// TestConfigSuggestsKnownKey checks that a misspelt key names the key meant.
func TestConfigSuggestsKnownKey(t *testing.T) {
	t.Parallel()
	raw := infra.Raw{Values: hubRaw(), Secret: map[string]bool{}}
	raw.Values[key("syncmode")] = "auto"
	_, err := infra.Parse(raw)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean "syncMode"?`)
}

// TestConfigDefaults checks that a minimal hub config takes the seminar's defaults.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := infra.Parse(infra.Raw{Values: hubRaw()})
	require.NoError(t, err)
	assert.Equal(t, 1, cfg.Replicas)
	assert.Equal(t, "https://kubernetes.default.svc", cfg.ClusterServer)
	assert.Equal(t, "gitops-monitor", cfg.AppNamespace)
	assert.Equal(t, "argocd", cfg.ArgoCDNamespace)
	assert.Equal(t, "9.4.16", cfg.ArgoCDChartVersion)
	assert.Equal(t, "ap-northeast-2", cfg.AWSRegion)
	assert.Equal(t, "#배포-알림", cfg.SlackChannel)
	assert.Equal(t, infra.SlackBot, cfg.SlackMethod)
	assert.False(t, cfg.SlackConfigured())
}

// TestConfigSecrets checks that secret keys are read when secret and never
// printed by the typed config.
func TestConfigSecrets(t *testing.T) {
	t.Parallel()
	raw := infra.Raw{Values: hubRaw(), Secret: map[string]bool{key("slackToken"): true}}
	raw.Values[key("slackToken")] = "xoxb-very-secret"
	cfg, err := infra.Parse(raw)
	require.NoError(t, err)
	assert.True(t, cfg.SlackConfigured())
	assert.Equal(t, "xoxb-very-secret", cfg.SlackToken.Reveal())
	assert.NotContains(t, fmt.Sprintf("%v %+v %s", cfg.SlackToken, *cfg, cfg.SlackToken), "xoxb-very-secret")
}

// TestConfigAcceptsSlackChannels checks the channel forms Slack allows,
// the seminar's Korean channel among them.
func TestConfigAcceptsSlackChannels(t *testing.T) {
	t.Parallel()
	for _, ch := range []string{"#배포-알림", "deploy-alerts", "#team_ops", "C0123ABCD9"} {
		raw := infra.Raw{Values: hubRaw()}
		raw.Values[key("slackChannel")] = ch
		_, err := infra.Parse(raw)
		assert.NoError(t, err, ch)
	}
}

// TestStackFilesParse checks the three stack files against the seminar's topology.
func TestStackFilesParse(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		hub      bool
		context  string
		server   string
		replicas int
		sync     infra.SyncMode
	}{
		"dev":     {true, "dev", "https://kubernetes.default.svc", 1, infra.SyncAuto},
		"staging": {false, "staging", "https://192.168.49.3:8443", 2, infra.SyncAuto},
		"prod":    {false, "prod", "https://192.168.49.4:8443", 3, infra.SyncManual},
	}
	for _, name := range stacks {
		st, err := offline.LoadStack(projectDir, name)
		require.NoError(t, err)
		cfg, err := infra.Parse(st.Raw())
		require.NoError(t, err, name)
		w := want[name]
		assert.Equal(t, name, cfg.Environment)
		assert.Equal(t, w.hub, cfg.Hub, name)
		assert.Equal(t, w.context, cfg.KubeContext, name)
		assert.Equal(t, w.server, cfg.ClusterServer, name)
		assert.Equal(t, w.replicas, cfg.Replicas, name)
		assert.Equal(t, w.sync, cfg.SyncMode, name)
		if !cfg.Hub {
			assert.Equal(t, "dev", cfg.HubStack, name)
		}
	}
}

// TestPulumiYAMLDeclaresEveryKey keeps Pulumi.yaml's config section and the
// program's key table in step: same keys, types and defaults.
func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	t.Parallel()
	proj, err := offline.LoadProject(projectDir)
	require.NoError(t, err)
	assert.Equal(t, infra.Namespace, proj.Name)
	var declared, known []string
	for k := range proj.Config {
		declared = append(declared, k)
	}
	for _, k := range infra.Keys() {
		known = append(known, k.Name)
		decl, ok := proj.Config[k.Name]
		if !assert.True(t, ok, "Pulumi.yaml does not declare %s", k.Name) {
			continue
		}
		assert.Equal(t, k.Type, decl.Type, k.Name)
		assert.NotEmpty(t, decl.Description, k.Name)
		if k.Required {
			assert.Nil(t, decl.Default, "%s is required: Pulumi.yaml must not give it a default", k.Name)
			assert.Contains(t, decl.Description, "Required", k.Name)
			continue
		}
		require.NotNil(t, decl.Default, "%s needs a default in Pulumi.yaml", k.Name)
		assert.Equal(t, k.Default, fmt.Sprint(decl.Default), k.Name)
	}
	sort.Strings(declared)
	sort.Strings(known)
	assert.Equal(t, known, declared)
}

// TestREADMEListsEveryKey keeps the README's configuration table true: every
// key the program reads is there with its default.
func TestREADMEListsEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(projectDir + "/README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, k := range infra.Keys() {
		def := "required"
		if !k.Required {
			def = "`" + k.Default + "`"
			if k.Default == "" {
				def = "`\"\"`"
			}
		}
		assert.Contains(t, readme, fmt.Sprintf("| `%s` | %s |", k.Name, def), "README's config table lacks %s", k.Name)
	}
}

// TestEKSIsRefusedWithTheReason checks that the EKS keys of an earlier
// version stop the stack with why (Argo CD would have no AWS identity and
// no EKS access entry), not with "unknown key" or a half-registered cluster.
func TestEKSIsRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	raw := envRaw()
	raw[key("eksClusterName")] = "prod"
	_, err := infra.Parse(infra.Raw{Values: raw, Secret: map[string]bool{}})
	var verr *infra.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []string{key("eksClusterName")}, verr.Keys())
	assert.Contains(t, err.Error(), "EKS registration is not supported")
	assert.Contains(t, err.Error(), "EKS access entry")
	assert.NotContains(t, err.Error(), "unknown key")
}

// TestPinnedVersionMeansOneThing checks that the config check and the
// policy pack agree on what a pinned chart version is: each version is
// either accepted by both or refused by both.
func TestPinnedVersionMeansOneThing(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"77.6.0", "9.4.16", "1.2.3-rc.1", "1.2.3+build.5", "v1.2.3", "1.2", "^9.4.0", "~9.4.16", "9.4.x", "latest", "01.2.3", ""} {
		raw := infra.Raw{Values: map[string]string{}, Secret: map[string]bool{}}
		for k, val := range hubRaw() {
			raw.Values[k] = val
		}
		raw.Values[key("kubePrometheusStackChartVersion")] = v
		_, err := infra.Parse(raw)
		configAccepts := err == nil
		policyAccepts := len(violations(t, guardrails.Stack{},
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "kube-prometheus-stack", "version": v}, nil, false))) == 0
		assert.Equal(t, configAccepts, policyAccepts, "version %q: the config check accepts it: %v, the policy pack: %v", v, configAccepts, policyAccepts)
	}
}
