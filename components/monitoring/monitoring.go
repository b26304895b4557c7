// Package monitoring installs kube-prometheus-stack in a cluster, with the
// platform's alert rules and Grafana dashboards.
package monitoring

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"

	"github.com/gitops-platform/gitops-platform/components/internal/untyped"
	"github.com/gitops-platform/gitops-platform/internal/chartsource"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:monitoring:Monitoring"

// Chart coordinates; the version comes from config and must be exact.
const (
	ChartName   = "kube-prometheus-stack"
	ChartRepo   = "https://prometheus-community.github.io/helm-charts"
	ReleaseName = "monitoring"
	// dashboardLabel marks ConfigMaps Grafana's sidecar loads.
	dashboardLabel     = "grafana_dashboard"
	grafanaAdminSecret = "grafana-admin"
)

// Args configure monitoring in one cluster.
type Args struct {
	Namespace    string
	ChartVersion string
	// Chart is where the kube-prometheus-stack chart comes from.
	Chart  chartsource.Source
	Values ValuesOptions
	// Hub adds Argo CD's delivery rules and dashboard.
	Hub bool
	// Environment names the cluster in alert messages.
	Environment string
	// Slack is where Alertmanager sends alerts; an empty method keeps them
	// in Alertmanager (and the component warns).
	Slack SlackArgs
}

// SlackArgs are the stack's own Slack settings.
type SlackArgs struct {
	Method  string // SlackBot or SlackWebhook; "" without a credential
	Channel string
	// Credential is the bot token or the webhook URL (a Pulumi secret);
	// nil without a method.
	Credential pulumi.StringInput
}

// Monitoring is kube-prometheus-stack in one cluster.
type Monitoring struct {
	pulumi.ResourceState

	// Release installs the CRDs (ServiceMonitor, PrometheusRule) that
	// others need; they depend on it.
	Release *helmv3.Release
	// GrafanaPassword is Grafana's admin password (secret).
	GrafanaPassword pulumi.StringOutput `pulumi:"grafanaPassword"`
	GrafanaURL      pulumi.StringOutput `pulumi:"grafanaUrl"`
	PrometheusURL   pulumi.StringOutput `pulumi:"prometheusUrl"`
}

// New installs the chart, its admin Secret, the rules and the dashboards.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	if args == nil {
		return nil, fmt.Errorf("monitoring %s: args are required", name)
	}
	if args.Namespace == "" || args.ChartVersion == "" || args.Environment == "" {
		return nil, fmt.Errorf("monitoring %s: a namespace, a chart version and an environment are required", name)
	}
	if (args.Slack.Method == "") != (args.Slack.Credential == nil) {
		return nil, fmt.Errorf("monitoring %s: a Slack method needs its credential, and a credential its method", name)
	}
	vopts := args.Values // a copy: the caller's args stay as they were
	vopts.GrafanaAdminSecret = grafanaAdminSecret
	vopts.AlertmanagerSecret = alertmanagerSecret
	vopts.Namespace = args.Namespace
	vals, err := Values(vopts)
	if err != nil {
		return nil, err
	}
	if err := args.Chart.Check(); err != nil {
		return nil, fmt.Errorf("monitoring: %w", err)
	}
	groups, err := RuleGroups(args.Hub)
	if err != nil {
		return nil, err
	}
	dashboards, err := Dashboards(args.Hub)
	if err != nil {
		return nil, err
	}
	m := &Monitoring{}
	if err := ctx.RegisterComponentResource(TypeToken, name, m, opts...); err != nil {
		return nil, err
	}
	if args.Slack.Method == "" {
		ctx.Log.Warn(fmt.Sprintf("no Slack credential: %s's alerts stay in Alertmanager until this stack sets its own slackToken "+
			"(or slackMethod: webhook and slackWebhookUrl) with `pulumi config set --secret --stack <stack>`", args.Environment),
			&pulumi.LogArgs{Resource: m})
	}
	labels := pulumi.StringMap{platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi)}
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: labels},
	}, pulumi.Parent(m))
	if err != nil {
		return nil, fmt.Errorf("monitoring namespace: %w", err)
	}
	namespace := ns.Metadata.Name().Elem()

	password, err := random.NewRandomPassword(ctx, name+"-grafana-password", &random.RandomPasswordArgs{
		Length: pulumi.Int(24), Special: pulumi.Bool(false),
	}, pulumi.Parent(m))
	if err != nil {
		return nil, fmt.Errorf("grafana password: %w", err)
	}
	secretPassword := pulumi.ToSecret(password.Result).(pulumi.StringOutput)
	admin, err := corev1.NewSecret(ctx, name+"-grafana-admin", &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(grafanaAdminSecret), Namespace: namespace, Labels: labels},
		StringData: pulumi.StringMap{"admin-user": pulumi.String("admin"), "admin-password": secretPassword},
	}, pulumi.Parent(m))
	if err != nil {
		return nil, fmt.Errorf("grafana admin secret: %w", err)
	}

	credential := args.Slack.Credential
	if credential == nil {
		credential = pulumi.String("")
	}
	alerting := credential.ToStringOutput().ApplyT(func(c string) (string, error) {
		return AlertmanagerConfig(Alerting{Environment: args.Environment, Method: args.Slack.Method, Channel: args.Slack.Channel}, c)
	}).(pulumi.StringOutput)
	amConfig, err := corev1.NewSecret(ctx, name+"-alertmanager-config", &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(alertmanagerSecret), Namespace: namespace, Labels: labels},
		StringData: pulumi.StringMap{AlertmanagerConfigKey: pulumi.ToSecret(alerting).(pulumi.StringOutput)},
	}, pulumi.Parent(m))
	if err != nil {
		return nil, fmt.Errorf("alertmanager config secret: %w", err)
	}

	chart, repo := args.Chart.Chart(ChartName)
	release, err := helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String(ReleaseName),
		Chart:          chart,
		Version:        pulumi.String(args.ChartVersion),
		RepositoryOpts: repo,
		Namespace:      namespace,
		Values:         pulumi.ToMap(vals),
		Timeout:        pulumi.Int(900),
		CleanupOnFail:  pulumi.Bool(true),
	}, pulumi.Parent(m), pulumi.DependsOn([]pulumi.Resource{admin, amConfig}))
	if err != nil {
		return nil, fmt.Errorf("kube-prometheus-stack release: %w", err)
	}

	spec, err := untyped.Map(map[string]any{"groups": groups})
	if err != nil {
		return nil, err
	}
	if _, err := apiextensions.NewCustomResource(ctx, name+"-rules", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("monitoring.coreos.com/v1"),
		Kind:        pulumi.String("PrometheusRule"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String("gitops-platform"), Namespace: namespace, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, pulumi.Parent(m), pulumi.DependsOn([]pulumi.Resource{release})); err != nil {
		return nil, fmt.Errorf("prometheus rules: %w", err)
	}
	for _, d := range dashboards {
		if _, err := corev1.NewConfigMap(ctx, name+"-dashboard-"+dashboardSlug(d.Name), &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String("dashboard-" + dashboardSlug(d.Name)),
				Namespace: namespace,
				Labels:    pulumi.StringMap{dashboardLabel: pulumi.String("1"), platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi)},
			},
			Data: pulumi.StringMap{d.Name: pulumi.String(d.JSON)},
		}, pulumi.Parent(m)); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.Name, err)
		}
	}

	m.Release = release
	m.GrafanaPassword = secretPassword
	m.GrafanaURL = pulumi.Sprintf("http://%s-grafana.%s.svc", ReleaseName, namespace)
	m.PrometheusURL = pulumi.Sprintf("http://%s-kube-prometheus-prometheus.%s.svc:9090", ReleaseName, namespace)
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{
		"grafanaPassword": m.GrafanaPassword, "grafanaUrl": m.GrafanaURL, "prometheusUrl": m.PrometheusURL,
	}); err != nil {
		return nil, err
	}
	return m, nil
}
