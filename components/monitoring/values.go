package monitoring

import "github.com/gitops-platform/gitops-platform/components/internal/untyped"

// ValuesOptions drive kube-prometheus-stack's values.
type ValuesOptions struct {
	Retention   string
	StorageSize string // empty: no volume
	// GrafanaAdminSecret holds Grafana's admin user and password.
	GrafanaAdminSecret string
	// AlertmanagerSecret holds Alertmanager's whole configuration, written by
	// the program because it holds the Slack credential.
	AlertmanagerSecret string
	// Namespace is the monitoring stack's own: the only one alert rules
	// are loaded from.
	Namespace string
}

// Values returns the chart's values: small enough for a 4 GB minikube node,
// discovering ServiceMonitors and PodMonitors in every namespace (so the
// app's ServiceMonitor in gitops-monitor is scraped) but denying them any
// file on Prometheus's disk (its own token, say), loading alert rules only
// from the monitoring namespace (a commit to the app's namespace cannot
// post to the deploy channel), and Grafana picking up dashboards from
// labelled ConfigMaps.
func Values(o ValuesOptions) (map[string]any, error) {
	prom := map[string]any{
		"retention": o.Retention,
		"serviceMonitorSelectorNilUsesHelmValues": false,
		"podMonitorSelectorNilUsesHelmValues":     false,
		"ruleSelectorNilUsesHelmValues":           false,
		"serviceMonitorNamespaceSelector":         map[string]any{},
		"podMonitorNamespaceSelector":             map[string]any{},
		"ruleNamespaceSelector":                   map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": o.Namespace}},
		"arbitraryFSAccessThroughSMs":             map[string]any{"deny": true},
		"resources":                               resources("100m", "400Mi", "1Gi"),
	}
	if o.StorageSize != "" {
		prom["storageSpec"] = map[string]any{"volumeClaimTemplate": map[string]any{"spec": map[string]any{
			"accessModes": []string{"ReadWriteOnce"},
			"resources":   map[string]any{"requests": map[string]any{"storage": o.StorageSize}},
		}}}
	}
	v := map[string]any{
		"prometheus": map[string]any{"prometheusSpec": prom},
		"alertmanager": map[string]any{"alertmanagerSpec": map[string]any{
			"useExistingSecret": true,
			"configSecret":      o.AlertmanagerSecret,
			"resources":         resources("10m", "32Mi", "128Mi"),
		}},
		"grafana": map[string]any{
			"admin":     map[string]any{"existingSecret": o.GrafanaAdminSecret, "userKey": "admin-user", "passwordKey": "admin-password"},
			"sidecar":   map[string]any{"dashboards": map[string]any{"enabled": true, "label": dashboardLabel, "labelValue": "1", "searchNamespace": "ALL"}},
			"resources": resources("50m", "128Mi", "256Mi"),
		},
		"prometheusOperator": map[string]any{"resources": resources("50m", "64Mi", "256Mi")},
		// minikube does not expose these control-plane endpoints.
		"kubeEtcd":              map[string]any{"enabled": false},
		"kubeControllerManager": map[string]any{"enabled": false},
		"kubeScheduler":         map[string]any{"enabled": false},
		"kubeProxy":             map[string]any{"enabled": false},
	}
	return untyped.Map(v) // plain types, as the Helm release takes them
}

func resources(cpu, memory, limit string) map[string]any {
	return map[string]any{
		"requests": map[string]any{"cpu": cpu, "memory": memory},
		"limits":   map[string]any{"memory": limit},
	}
}
