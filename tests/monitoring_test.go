package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	amconfig "github.com/prometheus/alertmanager/config"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promqlProblems parses every expression, naming the ones that do not parse.
func promqlProblems(exprs map[string]string) []string {
	var problems []string
	for where, e := range exprs {
		if _, err := parser.ParseExpr(e); err != nil {
			problems = append(problems, where+": "+err.Error())
		}
	}
	return problems
}

// dashboardExprs collects the PromQL of every panel of a dashboard file,
// which must be valid JSON.
func dashboardExprs(t *testing.T, d monitoring.Dashboard) map[string]string {
	t.Helper()
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(d.JSON), &dash), d.Name)
	require.NotEmpty(t, dash.Title, d.Name)
	out := map[string]string{}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "%s: panel %q has no query", d.Name, p.Title)
		for i, tg := range p.Targets {
			out[d.Name+"/"+p.Title+"/"+string(rune('A'+i))] = tg.Expr
		}
	}
	return out
}

// TestRulesAndDashboardsParse checks every alert expression and every
// dashboard query with Prometheus's own PromQL parser, for hub and spokes.
func TestRulesAndDashboardsParse(t *testing.T) {
	t.Parallel()
	for _, hub := range []bool{true, false} {
		groups, err := monitoring.RuleGroups(hub)
		require.NoError(t, err)
		exprs := map[string]string{}
		for _, g := range groups {
			for _, r := range g.Rules {
				require.NotEmpty(t, r.Alert)
				exprs[g.Name+"/"+r.Alert] = r.Expr
			}
		}
		dashboards, err := monitoring.Dashboards(hub)
		require.NoError(t, err)
		for _, d := range dashboards {
			for k, v := range dashboardExprs(t, d) {
				exprs[k] = v
			}
		}
		require.NotEmpty(t, exprs)
		assert.Empty(t, promqlProblems(exprs))
	}
}

// TestPromQLCheckCatchesABrokenExpression proves the check can fail.
func TestPromQLCheckCatchesABrokenExpression(t *testing.T) {
	t.Parallel()
	problems := promqlProblems(map[string]string{"broken": `sum(rate(http_requests_total[5m]) by`})
	require.Len(t, problems, 1)
	assert.True(t, strings.HasPrefix(problems[0], "broken: "))
}

// TestMonitoringPerStack checks kube-prometheus-stack in every cluster:
// the pinned chart, discovery across namespaces, a generated Grafana
// password kept secret and out of the values, the app's rules everywhere
// and Argo CD's delivery rules and dashboard on the hub only.
func TestMonitoringPerStack(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		rel := named(t, res, typeRelease, "monitoring")
		assert.Equal(t, "kube-prometheus-stack", rel.Inputs["chart"].StringValue())
		assert.Equal(t, "77.6.0", rel.Inputs["version"].StringValue())
		assert.Equal(t, env, providerOf(rel))
		require.False(t, rel.Inputs["values"].IsSecret(), "no secret in the values")
		v := reveal(rel.Inputs["values"]).(map[string]any)
		spec := v["prometheus"].(map[string]any)["prometheusSpec"].(map[string]any)
		assert.Equal(t, "2d", spec["retention"])
		assert.Equal(t, false, spec["serviceMonitorSelectorNilUsesHelmValues"], "the app's ServiceMonitor is scraped")
		assert.Equal(t, map[string]any{}, spec["serviceMonitorNamespaceSelector"])
		assert.Equal(t, "grafana-admin", v["grafana"].(map[string]any)["admin"].(map[string]any)["existingSecret"])

		admin := named(t, res, typeSecret, "monitoring-grafana-admin")
		require.True(t, admin.Inputs["stringData"].IsSecret())
		assert.Equal(t, offline.ComputedPlaceholder("random:index/randomPassword:RandomPassword", "monitoring-grafana-password", "result"),
			reveal(admin.Inputs["stringData"]).(map[string]any)["admin-password"], "the generated password")

		rules := reveal(one(t, res, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").Inputs["spec"]).(map[string]any)["groups"].([]any)
		var dashboards []string
		for _, cm := range byType(res, "kubernetes:core/v1:ConfigMap") {
			if path(cm.Inputs, "metadata", "labels", "grafana_dashboard").V == "1" {
				dashboards = append(dashboards, cm.Name)
			}
		}
		if env == "dev" {
			assert.Len(t, rules, 2)
			assert.ElementsMatch(t, []string{"monitoring-dashboard-app", "monitoring-dashboard-argocd"}, dashboards)
			argo := reveal(named(t, res, typeRelease, "argocd").Inputs["values"]).(map[string]any)
			assert.Equal(t, true, argo["controller"].(map[string]any)["metrics"].(map[string]any)["serviceMonitor"].(map[string]any)["enabled"])
			assert.True(t, dependsOn(named(t, res, typeRelease, "argocd"), typeRelease, "monitoring"), "Argo CD's ServiceMonitors need the CRD")
		} else {
			assert.Len(t, rules, 1)
			assert.Equal(t, []string{"monitoring-dashboard-app"}, dashboards)
		}
		assert.True(t, dependsOn(named(t, res, typeSecret, env+"-registration"), typeRelease, "monitoring"),
			"Argo CD sees the cluster only once the ServiceMonitor CRD exists")
		out := res.Outputs["grafanaPassword"]
		assert.True(t, out.IsSecret(), "the stack output is secret")
	}
}

// TestMonitoringValues checks retention and a volume from config.
func TestMonitoringValues(t *testing.T) {
	t.Parallel()
	v, err := monitoring.Values(monitoring.ValuesOptions{Retention: "7d", StorageSize: "10Gi", GrafanaAdminSecret: "g"})
	require.NoError(t, err)
	spec := v["prometheus"].(map[string]any)["prometheusSpec"].(map[string]any)
	assert.Equal(t, "7d", spec["retention"])
	claim := spec["storageSpec"].(map[string]any)["volumeClaimTemplate"].(map[string]any)["spec"].(map[string]any)
	assert.Equal(t, map[string]any{"storage": "10Gi"}, claim["resources"].(map[string]any)["requests"])
	v, err = monitoring.Values(monitoring.ValuesOptions{Retention: "2d", Namespace: "monitoring"})
	require.NoError(t, err)
	spec = v["prometheus"].(map[string]any)["prometheusSpec"].(map[string]any)
	assert.NotContains(t, spec, "storageSpec")
	assert.Equal(t, map[string]any{"deny": true}, spec["arbitraryFSAccessThroughSMs"], "a ServiceMonitor reads no file on Prometheus's disk")
	assert.Equal(t, map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}, spec["ruleNamespaceSelector"],
		"alert rules only from the platform's namespace")
	assert.Equal(t, map[string]any{}, spec["serviceMonitorNamespaceSelector"], "the app's ServiceMonitor is still scraped")
}

// alertmanagerConfig loads the Alertmanager configuration a stack writes
// with Alertmanager's own loader, and checks the chart is told to use it.
func alertmanagerConfig(t *testing.T, res *offline.Result) *amconfig.Config {
	t.Helper()
	secret := named(t, res, typeSecret, "monitoring-alertmanager-config")
	require.True(t, secret.Inputs["stringData"].IsSecret(), "the config holds the Slack credential")
	assert.Equal(t, "alertmanager-gitops-platform", path(secret.Inputs, "metadata", "name").V)
	text, ok := reveal(secret.Inputs["stringData"]).(map[string]any)[monitoring.AlertmanagerConfigKey].(string)
	require.True(t, ok, "stringData holds %s", monitoring.AlertmanagerConfigKey)
	cfg, err := amconfig.Load(text)
	require.NoError(t, err, "Alertmanager accepts:\n%s", text)

	rel := named(t, res, typeRelease, "monitoring")
	require.False(t, rel.Inputs["values"].IsSecret(), "the credential stays out of the Helm values")
	spec := reveal(rel.Inputs["values"]).(map[string]any)["alertmanager"].(map[string]any)["alertmanagerSpec"].(map[string]any)
	assert.Equal(t, true, spec["useExistingSecret"])
	assert.Equal(t, "alertmanager-gitops-platform", spec["configSecret"])
	assert.True(t, dependsOn(rel, typeSecret, "monitoring-alertmanager-config"), "the secret exists before Alertmanager starts")
	return cfg
}

// receiverFor walks the routing tree as Alertmanager does without
// `continue`: the first child whose matchers all match takes the alert.
func receiverFor(r *amconfig.Route, labels model.LabelSet) string {
	for _, child := range r.Routes {
		if amlabels.Matchers(child.Matchers).Matches(labels) {
			if got := receiverFor(child, labels); got != "" {
				return got
			}
			return r.Receiver
		}
	}
	return r.Receiver
}

// slackOf returns the one Slack config of the receiver named slack.
func slackOf(t *testing.T, cfg *amconfig.Config) *amconfig.SlackConfig {
	t.Helper()
	for _, r := range cfg.Receivers {
		if r.Name == "slack" {
			require.Len(t, r.SlackConfigs, 1)
			return r.SlackConfigs[0]
		}
	}
	t.Fatalf("no slack receiver")
	return nil
}

// alertSamples are alerts as Prometheus sends them: the platform's own
// rules (labelled by the program) and the chart's default rules.
var alertSamples = map[string]model.LabelSet{
	"AppDown":                  {"alertname": "AppDown", "severity": "critical", "platform": "gitops-platform"},
	"AppHighErrorRate":         {"alertname": "AppHighErrorRate", "severity": "warning", "platform": "gitops-platform"},
	"ArgoCDProdWaitingForSync": {"alertname": "ArgoCDProdWaitingForSync", "severity": "info", "platform": "gitops-platform"},
	"KubeNodeNotReady":         {"alertname": "KubeNodeNotReady", "severity": "critical"},
	"KubePodCrashLooping":      {"alertname": "KubePodCrashLooping", "severity": "warning"},
	"Watchdog":                 {"alertname": "Watchdog", "severity": "none"},
	"InfoInhibitor":            {"alertname": "InfoInhibitor", "severity": "none"},
}

// TestAlertmanagerRoutesToSlack checks, with Alertmanager's own config
// loader, that each Slack method yields a valid configuration whose routes
// send the platform's alerts and critical ones to the seminar's channel
// and keep the always-firing and default warnings out of it, on the hub
// and on staging, each from its own stack's config.
func TestAlertmanagerRoutesToSlack(t *testing.T) {
	t.Parallel()
	toSlack := map[string]bool{"AppDown": true, "AppHighErrorRate": true, "ArgoCDProdWaitingForSync": true, "KubeNodeNotReady": true}
	for method, set := range slackSettings("alerts") {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			hub, err := evaluateWithSlack(t, set)
			require.NoError(t, err)
			staging, err := evaluateStackWithSlack(t, "staging", set)
			require.NoError(t, err)
			assert.Empty(t, staging.Warnings)

			for env, res := range map[string]*offline.Result{"dev": hub, "staging": staging} {
				cfg := alertmanagerConfig(t, res)
				for name, labels := range alertSamples {
					want := "null"
					if toSlack[name] {
						want = "slack"
					}
					assert.Equal(t, want, receiverFor(cfg.Route, labels), "%s: %s", env, name)
				}
				slack := slackOf(t, cfg)
				assert.Equal(t, "#배포-알림", slack.Channel, env)
				assert.True(t, slack.SendResolved())
				assert.Contains(t, slack.Title, env+":", "the message names the cluster")
				if method == "bot" {
					assert.Equal(t, "https://slack.com/api/chat.postMessage", slack.APIURL.String())
					require.NotNil(t, slack.HTTPConfig.Authorization)
					assert.Equal(t, "xoxb-alerts", string(slack.HTTPConfig.Authorization.Credentials))
				} else {
					assert.Equal(t, "https://hooks.slack.com/services/T0/B0/alerts", slack.APIURL.String())
				}
			}
		})
	}
}

// TestAlertmanagerWithoutSlack checks that without a credential in a
// stack every alert of its cluster stays in Alertmanager, and a joining
// stack says so (the hub's warning is about its deploy notifications),
// even when the hub has one: a joining stack does not read the hub's.
func TestAlertmanagerWithoutSlack(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		cfg := alertmanagerConfig(t, res)
		require.Len(t, cfg.Receivers, 1)
		for name, labels := range alertSamples {
			assert.Equal(t, "null", receiverFor(cfg.Route, labels), "%s: %s", env, name)
		}
		if env != "dev" {
			assert.Contains(t, strings.Join(res.Warnings, "\n"), env+"'s alerts stay in Alertmanager until this stack sets its own slackToken")
		}
	}
	hub, err := evaluateWithSlack(t, slackSettings("hub")["bot"])
	require.NoError(t, err)
	st, err := offline.LoadStack(projectDir, "staging")
	require.NoError(t, err)
	staging, err := offline.Run(st, map[string]resource.PropertyMap{"dev": hub.Outputs})
	require.NoError(t, err)
	assert.Len(t, alertmanagerConfig(t, staging).Receivers, 1, "the hub's credential is not staging's")
}

// TestJoiningStacksNeedNoHubSecret checks that what staging and prod
// create does not depend on any secret of the hub: each stack has its own
// passphrase, so the hub's secret outputs are out of a joining stack's
// reach (Pulumi elides them). Each joining stack renders the same whether
// its StackReference can decrypt the hub's secrets or not.
func TestJoiningStacksNeedNoHubSecret(t *testing.T) {
	t.Parallel()
	hub, err := evaluateWithSlack(t, slackSettings("hub")["bot"])
	require.NoError(t, err)
	var secret []string
	for k, v := range hub.Outputs {
		if v.ContainsSecrets() {
			secret = append(secret, string(k))
		}
	}
	require.NotEmpty(t, secret, "the hub has secret outputs for this test to withhold")
	for _, env := range []string{"staging", "prod"} {
		st, err := offline.LoadStack(projectDir, env)
		require.NoError(t, err)
		readable, err := offline.Run(st, map[string]resource.PropertyMap{"dev": hub.Outputs})
		require.NoError(t, err)
		elided, err := offline.Run(st, map[string]resource.PropertyMap{"dev": offline.ElideSecrets(hub.Outputs)})
		require.NoError(t, err)
		assert.Equal(t, revealedRender(t, readable), revealedRender(t, elided), "%s depends on the hub's secret outputs %v", env, secret)
		assert.Equal(t, readable.Warnings, elided.Warnings, env)
	}
}

// revealedRender is the whole render with the values behind "[secret]".
func revealedRender(t *testing.T, res *offline.Result) string {
	t.Helper()
	res.ShowSecrets = true
	b, err := json.Marshal(res.Render())
	require.NoError(t, err)
	return string(b)
}

// TestAlertmanagerConfigErrors checks the pure builder refuses a half-set
// Slack configuration, and that every platform rule carries the label the
// routes look for.
func TestAlertmanagerConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := monitoring.AlertmanagerConfig(monitoring.Alerting{Environment: "dev", Method: "bot", Channel: "#x"}, "")
	assert.ErrorContains(t, err, "without a credential")
	_, err = monitoring.AlertmanagerConfig(monitoring.Alerting{Environment: "dev", Method: "bot"}, "xoxb")
	assert.ErrorContains(t, err, "without a channel")
	_, err = monitoring.AlertmanagerConfig(monitoring.Alerting{Environment: "dev", Method: "teams", Channel: "#x"}, "t")
	assert.ErrorContains(t, err, `unknown slack method "teams"`)

	groups, err := monitoring.RuleGroups(true)
	require.NoError(t, err)
	for _, g := range groups {
		for _, r := range g.Rules {
			assert.Equal(t, "gitops-platform", r.Labels["platform"], r.Alert)
			assert.NotEmpty(t, r.Labels["severity"], r.Alert)
		}
	}
}
