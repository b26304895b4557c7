package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/prometheus/prometheus/promql/parser"
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
	v, err = monitoring.Values(monitoring.ValuesOptions{Retention: "2d"})
	require.NoError(t, err)
	assert.NotContains(t, v["prometheus"].(map[string]any)["prometheusSpec"], "storageSpec")
}
