package infra

import (
	"fmt"

	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
)

// Local ports the UIs are forwarded to on the laptop.
const (
	argocdLocalPort  = 8080
	grafanaLocalPort = 3000
)

// argocdOpen is the shell command that opens Argo CD from the laptop:
// what to browse to and how to log in, then a port-forward to
// argocd-server (plain HTTP in a lab, its own TLS otherwise). `make argocd`
// runs it.
func argocdOpen(cfg *Config, stack string) string {
	scheme, port := "https", 443
	if cfg.LocalLab {
		scheme, port = "http", 80
	}
	login := "log in with " + string(cfg.Access.SSO) + " single sign-on at " + cfg.ArgoCDURL
	switch {
	case cfg.ArgoCDAdminEnabled:
		login = fmt.Sprintf("user admin, password: pulumi stack output --stack %s --show-secrets %s", stack, OutputArgoCDAdminPassword)
	case cfg.Access.SSO == SSONone || cfg.Access.SSO == "":
		login = "nobody can log in: set argocdAdminEnabled or argocdSso"
	}
	return fmt.Sprintf("echo 'Argo CD: %s://localhost:%d (%s); Ctrl-C stops it' && "+
		"kubectl --context %s -n %s port-forward svc/%s-server %d:%d",
		scheme, argocdLocalPort, login, cfg.KubeContext, cfg.ArgoCDNamespace, argocd.ReleaseName, argocdLocalPort, port)
}

// grafanaOpen is the shell command that opens this stack's Grafana from
// the laptop; `make grafana` runs it.
func grafanaOpen(cfg *Config, stack string) string {
	return fmt.Sprintf("echo 'Grafana: http://localhost:%d (user admin, password: pulumi stack output --stack %s --show-secrets %s); "+
		"Ctrl-C stops it' && kubectl --context %s -n %s port-forward svc/%s-grafana %d:80",
		grafanaLocalPort, stack, OutputGrafanaPassword, cfg.KubeContext, cfg.MonitoringNamespace, monitoring.ReleaseName, grafanaLocalPort)
}
