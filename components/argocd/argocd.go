// Package argocd installs Argo CD on the hub cluster: the Helm release, the
// notifications Secret, the gitops repo's credential and the AppProject the
// ApplicationSets deploy through.
package argocd

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"

	"github.com/gitops-platform/gitops-platform/components/internal/untyped"
	"github.com/gitops-platform/gitops-platform/internal/chartsource"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = platform.TypeArgoCD

// Chart coordinates. The version comes from config and must be exact.
const (
	ChartName = "argo-cd"
	ChartRepo = "https://argoproj.github.io/argo-helm"
	// ReleaseName is the Helm release; the chart prefixes its objects with it.
	ReleaseName = "argocd"
)

// Args configure Argo CD on the hub.
type Args struct {
	Namespace    string
	ChartVersion string
	Values       ValuesOptions
	// Project is the AppProject the ApplicationSets use.
	Project string
	// AppNamespace is the one namespace the project may deploy to.
	AppNamespace string
	// GitopsRepoURL is the gitops repo's SSH URL, the project's only source.
	GitopsRepoURL pulumi.StringInput
	// DeployKey is the read-only deploy key's private half (secret).
	DeployKey pulumi.StringInput
	// WebhookSecret, when the gitops repo has a webhook, is the secret
	// Argo CD checks its signature with; nil when there is no webhook.
	WebhookSecret pulumi.StringInput
	// SSOClientSecret is the SSO client's secret (a Pulumi secret), which
	// lands in argocd-secret under Values.SSO.SecretKey(); nil without SSO.
	SSOClientSecret pulumi.StringInput
	// Chart is where the argo-cd chart comes from.
	Chart chartsource.Source
	// SlackSecretKey and SlackCredential fill argocd-notifications-secret;
	// an empty key leaves the Secret empty (notifications off).
	SlackSecretKey  string
	SlackCredential pulumi.StringInput
	// After holds back the release (the monitoring CRDs its ServiceMonitors need).
	After []pulumi.Resource
}

// ArgoCD is Argo CD on the hub.
type ArgoCD struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// Release is the Helm release: objects that need Argo CD's CRDs, or that
	// must go while Argo CD still runs, depend on it.
	Release *helmv3.Release
	// Running is what Argo CD's Applications need: the release, the
	// notifications secret, the repository credential and the project.
	// Depend on these, not on the component: the SDK expands a component
	// into the children registered so far, which varies from run to run.
	Running []pulumi.Resource
	Project pulumi.StringOutput `pulumi:"project"`
	// AdminPassword is the local admin's password (a Pulumi secret), made
	// by the program; only with Values.AdminEnabled. Not a `pulumi:`
	// output: without admin login it would stay unknown in every preview.
	AdminPassword pulumi.StringOutput
	// AdminEnabled says whether AdminPassword is set.
	AdminEnabled bool
}

// New installs Argo CD.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ArgoCD, error) {
	if args == nil {
		return nil, fmt.Errorf("argocd %s: args are required", name)
	}
	if args.Namespace == "" || args.ChartVersion == "" || args.Project == "" || args.AppNamespace == "" || args.GitopsRepoURL == nil || args.DeployKey == nil {
		return nil, fmt.Errorf("argocd %s: a namespace, a chart version, a project, the app namespace, the gitops repo's URL and its deploy key are required", name)
	}
	if (args.SlackSecretKey == "") != (args.SlackCredential == nil) {
		return nil, fmt.Errorf("argocd %s: a Slack secret key needs its credential, and a credential its key", name)
	}
	vals, err := Values(args.Values)
	if err != nil {
		return nil, err
	}
	if err := args.Chart.Check(); err != nil {
		return nil, fmt.Errorf("argocd: %w", err)
	}
	if (args.Values.SSO.Kind != "") != (args.SSOClientSecret != nil) {
		return nil, fmt.Errorf("argocd: single sign-on needs its client secret, and a client secret needs single sign-on")
	}
	secrets := map[string]pulumi.StringInput{}
	if args.WebhookSecret != nil {
		secrets["githubSecret"] = args.WebhookSecret
	}
	if key := args.Values.SSO.SecretKey(); key != "" {
		secrets[key] = args.SSOClientSecret
	}
	a := &ArgoCD{AdminEnabled: args.Values.AdminEnabled}
	if err := ctx.RegisterComponentResource(TypeToken, name, a, opts...); err != nil {
		return nil, err
	}
	switch {
	case args.Values.AdminEnabled:
		// The admin's password is the program's, so a person reads it
		// from a stack output instead of from the cluster; Argo CD
		// keeps only its bcrypt hash in argocd-secret.
		password, err := random.NewRandomPassword(ctx, name+"-admin-password", &random.RandomPasswordArgs{
			Length: pulumi.Int(24), Special: pulumi.Bool(false),
		}, pulumi.Parent(a))
		if err != nil {
			return nil, fmt.Errorf("argocd admin password: %w", err)
		}
		a.AdminPassword = pulumi.ToSecret(password.Result).(pulumi.StringOutput)
		secrets[adminPasswordKey] = password.BcryptHash
	case args.Values.SSO.Kind == "":
		ctx.Log.Warn("nobody can log in to Argo CD: admin login is off (argocdAdminEnabled) and there is no single sign-on "+
			"(argocdSso); in a lab set argocdAdminEnabled: true, on a shared hub set argocdSso (README: People's access to Argo CD)",
			&pulumi.LogArgs{Resource: a})
	}
	if args.SlackSecretKey == "" {
		ctx.Log.Warn("no Slack credential: deploy notifications are off until the hub sets slackToken "+
			"(or slackMethod: webhook and slackWebhookUrl) with `pulumi config set --secret`", &pulumi.LogArgs{Resource: a})
	}
	if args.Values.Insecure {
		ctx.Log.Info("localLab: Argo CD's server speaks plain HTTP; reach it with kubectl port-forward only", &pulumi.LogArgs{Resource: a})
	}
	labels := pulumi.StringMap{platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi), "app.kubernetes.io/part-of": pulumi.String("argocd")}
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: labels},
	}, pulumi.Parent(a))
	if err != nil {
		return nil, fmt.Errorf("argocd namespace: %w", err)
	}
	namespace := ns.Metadata.Name().Elem()

	notifArgs := &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(notificationsSecret), Namespace: namespace, Labels: labels},
		Type:     pulumi.String("Opaque"),
	}
	if args.SlackSecretKey != "" {
		notifArgs.StringData = pulumi.ToSecret(pulumi.StringMap{args.SlackSecretKey: args.SlackCredential}).(pulumi.StringMapOutput)
	}
	notifSecret, err := corev1.NewSecret(ctx, name+"-notifications-secret", notifArgs, pulumi.Parent(a))
	if err != nil {
		return nil, fmt.Errorf("notifications secret: %w", err)
	}

	chart, repo := args.Chart.Chart(ChartName)
	release, err := helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String(ReleaseName),
		Chart:          chart,
		Version:        pulumi.String(args.ChartVersion),
		RepositoryOpts: repo,
		Namespace:      namespace,
		Values:         releaseValues(vals, secrets),
		Timeout:        pulumi.Int(600),
		CleanupOnFail:  pulumi.Bool(true),
	}, pulumi.Parent(a), pulumi.DependsOn(append([]pulumi.Resource{notifSecret}, args.After...)))
	if err != nil {
		return nil, fmt.Errorf("argocd release: %w", err)
	}
	afterRelease := []pulumi.ResourceOption{pulumi.Parent(a), pulumi.DependsOn([]pulumi.Resource{release})}

	repoSecret, err := corev1.NewSecret(ctx, name+"-gitops-repo", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String("repo-gitops"),
			Namespace: namespace,
			Labels: pulumi.StringMap{
				platform.LabelSecretType: pulumi.String("repository"),
				platform.LabelManagedBy:  pulumi.String(platform.ManagedByPulumi),
			},
		},
		Type: pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(pulumi.StringMap{
			"type":          pulumi.String("git"),
			"url":           args.GitopsRepoURL,
			"project":       pulumi.String(args.Project),
			"sshPrivateKey": args.DeployKey,
		}).(pulumi.StringMapOutput),
	}, afterRelease...)
	if err != nil {
		return nil, fmt.Errorf("gitops repository secret: %w", err)
	}

	spec := args.GitopsRepoURL.ToStringOutput().ApplyT(func(repo string) (map[string]any, error) {
		return untyped.Map(projectSpec(repo, args.AppNamespace))
	}).(pulumi.MapOutput)
	project, err := apiextensions.NewCustomResource(ctx, name+"-project", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("argoproj.io/v1alpha1"),
		Kind:        pulumi.String("AppProject"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(args.Project), Namespace: namespace, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, afterRelease...)
	if err != nil {
		return nil, fmt.Errorf("app project: %w", err)
	}

	a.Namespace = namespace
	a.Release = release
	a.Running = []pulumi.Resource{notifSecret, release, repoSecret, project}
	a.Project = project.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{
		"namespace": a.Namespace,
		"project":   a.Project,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// adminPasswordKey is the chart's value for the admin's bcrypt hash
// (configs.secret.argocdServerAdminPassword), which it writes to
// argocd-secret as admin.password.
const adminPasswordKey = "argocdServerAdminPassword"

// releaseValues are the chart values, with secrets added to argocd-secret
// (the webhook's as githubSecret, the admin's hash as
// argocdServerAdminPassword, the SSO client's under its own key). Each
// secret is one leaf of the values, a Pulumi secret of its own: the rest
// stays readable and known even in a preview that does not know the secret.
func releaseValues(vals map[string]any, secrets map[string]pulumi.StringInput) pulumi.MapInput {
	v := pulumi.ToMap(vals)
	if len(secrets) == 0 {
		return v
	}
	secret := pulumi.Map{}
	extra := pulumi.Map{}
	for k, s := range secrets {
		if k == "githubSecret" || k == adminPasswordKey {
			secret[k] = pulumi.ToSecret(s).(pulumi.StringOutput)
		} else {
			extra[k] = pulumi.ToSecret(s).(pulumi.StringOutput)
		}
	}
	if len(extra) > 0 {
		secret["extra"] = extra
	}
	configs, _ := vals["configs"].(map[string]any) // Values always sets configs
	withSecret := pulumi.ToMap(configs)
	withSecret["secret"] = secret
	v["configs"] = withSecret
	return v
}
