// Package infra reads a stack's configuration and wires the platform's
// components for that stack's role: the hub, or an environment that joins it.
package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/gitops-platform/gitops-platform/components/appsets"
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/ciidentity"
	"github.com/gitops-platform/gitops-platform/components/clusters"
	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/components/pullsecret"
	"github.com/gitops-platform/gitops-platform/components/registry"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Stack outputs. The hub's are what the other stacks read through their
// StackReference; renaming one breaks stacks that already run.
const (
	OutputKubeContext     = "kubeContext"
	OutputArgoCDNamespace = "argocdNamespace"
	OutputGitHubOwner     = "githubOwner"
	OutputSourceRepo      = "sourceRepo"
	OutputGitopsRepo      = "gitopsRepo"
	OutputImageRepository = "imageRepository"
	OutputRepositoryARN   = "repositoryArn"
	OutputRegistryID      = "registryId"
	OutputAWSRegion       = "awsRegion"
	OutputCIRoleARN       = "ciRoleArn"
	OutputImageTag        = "imageTag"
	OutputEnvironment     = "environment"
	OutputClusterSecret   = "clusterSecret"
	OutputAppNamespace    = "appNamespace"
	OutputOverlayPath     = "overlayPath"
	OutputGrafanaURL      = "grafanaUrl"
	OutputPrometheusURL   = "prometheusUrl"
	OutputGrafanaPassword = "grafanaPassword"
)

// Run is the Pulumi program: pulumi.Run(infra.Run).
func Run(ctx *pulumi.Context) error {
	cfg, err := Parse(rawConfig(ctx))
	if err != nil {
		return err
	}
	access, err := readClusterAccess(ctx, cfg)
	if err != nil {
		return err
	}
	return deploy(ctx, cfg, access)
}

// readClusterAccess reads this environment's cluster from the kubeconfig,
// before any resource is registered, so a wrong context or a missing CA file
// stops the program with the key to fix.
func readClusterAccess(ctx *pulumi.Context, cfg *Config) (*ClusterAccess, error) {
	access, err := kubeconfigReader(ctx)(cfg.Kubeconfig, cfg.KubeContext)
	if err == nil {
		return access, nil
	}
	var notFound *ContextNotFoundError
	if errors.As(err, &notFound) {
		return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyKubeContext), Value: cfg.KubeContext,
			Expected: err.Error() + "; see `kubectl config get-contexts`"}}}
	}
	return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyKubeconfig), Value: cfg.Kubeconfig, Expected: err.Error()}}}
}

type configKeysKey struct{}

// WithConfigKeys tells Run which config keys the context holds. The SDK's
// Context can read a key but cannot list them; under pulumi.Run the list comes
// from the same PULUMI_CONFIG variable the SDK reads, and a program run under
// mocks passes the keys of its RunInfo.Config here.
func WithConfigKeys(ctx *pulumi.Context, keys []string) *pulumi.Context {
	return ctx.WithValue(configKeysKey{}, keys)
}

func rawConfig(ctx *pulumi.Context) Raw {
	keys, ok := ctx.Value(configKeysKey{}).([]string)
	if !ok {
		var env map[string]string
		// A malformed variable leaves the key list empty, as the SDK leaves
		// its config empty; the required keys then report what is missing.
		_ = json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &env)
		for k := range env {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	raw := Raw{Values: map[string]string{}, Secret: map[string]bool{}}
	for _, k := range keys {
		if v, ok := ctx.GetConfig(k); ok {
			raw.Values[k] = v
			raw.Secret[k] = ctx.IsConfigSecret(k)
		}
	}
	return raw
}

// hubRefs is what every stack needs from the hub, whether it is the hub or
// reads the hub through a StackReference.
type hubRefs struct {
	provider        pulumi.ProviderResource
	github          pulumi.ProviderResource
	aws             pulumi.ProviderResource
	awsRegion       pulumi.StringOutput
	argocdNamespace pulumi.StringOutput
	gitopsRepo      pulumi.StringOutput
	imageRepository pulumi.StringOutput
	// imageTag is the tag every overlay starts from, until the CI sets one.
	imageTag      pulumi.StringOutput
	repositoryARN pulumi.StringOutput
	// repos are the hub's repos; nil on other stacks.
	repos *repos.Repos
}

func deploy(ctx *pulumi.Context, cfg *Config, access *ClusterAccess) error {
	envProvider, err := newKubeProvider(ctx, cfg.Environment, pulumi.String(cfg.KubeContext), cfg.Kubeconfig)
	if err != nil {
		return err
	}
	var ref *pulumi.StackReference
	if !cfg.Hub {
		if ref, err = pulumi.NewStackReference(ctx, cfg.HubStack, nil); err != nil {
			return fmt.Errorf("hub stack reference %s: %w", cfg.HubStack, err)
		}
	}
	mon, err := monitoring.New(ctx, "monitoring", &monitoring.Args{
		Namespace:    cfg.MonitoringNamespace,
		ChartVersion: cfg.KubePrometheusStackChartVersion,
		Chart:        cfg.KubePrometheusStackChart.Source(),
		Values:       monitoring.ValuesOptions{Retention: cfg.PrometheusRetention, StorageSize: cfg.PrometheusStorageSize},
		Hub:          cfg.Hub,
		Environment:  cfg.Environment,
		Slack:        stackSlack(cfg),
	}, pulumi.Providers(envProvider))
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	ctx.Export(OutputGrafanaURL, mon.GrafanaURL)
	ctx.Export(OutputPrometheusURL, mon.PrometheusURL)
	ctx.Export(OutputGrafanaPassword, mon.GrafanaPassword)

	var hub *hubRefs
	if cfg.Hub {
		hub, err = deployHub(ctx, cfg, envProvider, mon)
	} else {
		hub, err = referenceHub(ctx, cfg, ref)
	}
	if err != nil {
		return err
	}

	cluster, err := clusters.New(ctx, cfg.Environment, &clusters.Args{
		Environment:     cfg.Environment,
		SyncMode:        string(cfg.SyncMode),
		AppNamespace:    cfg.AppNamespace,
		Server:          cfg.ClusterServer,
		CAData:          access.CAData,
		Insecure:        cfg.ClusterInsecure,
		ArgoCDNamespace: hub.argocdNamespace,
		EnvProvider:     envProvider,
		HubProvider:     hub.provider,
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cfg.Environment, err)
	}

	pull, err := pullsecret.New(ctx, cfg.Environment+"-ecr-pull", &pullsecret.Args{
		Environment:   cfg.Environment,
		AppName:       cfg.AppName,
		Region:        hub.awsRegion,
		AppNamespace:  cluster.AppNamespace,
		RepositoryARN: hub.repositoryARN,
		RepositoryURL: hub.imageRepository,
		AWSProvider:   hub.aws,
		KubeProvider:  envProvider,
	})
	if err != nil {
		return fmt.Errorf("ecr pull secret: %w", err)
	}
	// Argo CD sees the cluster, and syncs the app there, only once the
	// monitoring CRDs (the app's ServiceMonitor) and the pull secret exist.
	if err := cluster.Register(ctx, mon.Release, pull.FirstRefresh); err != nil {
		return fmt.Errorf("cluster %s: %w", cfg.Environment, err)
	}

	overlay, err := repos.NewOverlay(ctx, cfg.Environment+"-overlay", &repos.OverlayArgs{
		GitopsRepo:      hub.gitopsRepo,
		ImageRepository: hub.imageRepository,
		ImageTag:        hub.imageTag,
		Environment:     cfg.Environment,
		AppName:         cfg.AppName,
		AppNamespace:    cfg.AppNamespace,
		Replicas:        cfg.Replicas,
		SyncMode:        string(cfg.SyncMode),
	}, pulumi.Providers(hub.github))
	if err != nil {
		return fmt.Errorf("overlay %s: %w", cfg.Environment, err)
	}
	if cfg.Hub {
		// Last: every push to main runs the workflow, which reads the
		// Actions settings and edits the overlays.
		if _, err := repos.NewWorkflow(ctx, "ci-workflow", &repos.WorkflowArgs{
			Repos: hub.repos, After: []pulumi.Resource{overlay},
		}, pulumi.Providers(hub.github)); err != nil {
			return fmt.Errorf("ci workflow: %w", err)
		}
	}

	ctx.Export(OutputEnvironment, pulumi.String(cfg.Environment))
	ctx.Export(OutputAppNamespace, cluster.AppNamespace)
	ctx.Export(OutputClusterSecret, cluster.ClusterSecret)
	ctx.Export(OutputOverlayPath, overlay.Path)
	return nil
}

// deployHub creates what all environments share, on the hub.
func deployHub(ctx *pulumi.Context, cfg *Config, hubProvider pulumi.ProviderResource, mon *monitoring.Monitoring) (*hubRefs, error) {
	aws, err := newAWSProvider(ctx, "aws", pulumi.String(cfg.AWSRegion))
	if err != nil {
		return nil, err
	}
	reg, err := registry.New(ctx, cfg.AppName, &registry.Args{
		Name:        cfg.AppName,
		KeepImages:  cfg.RegistryKeepImages,
		ForceDelete: cfg.RegistryForceDelete,
		Protect:     cfg.RegistryProtect,
	}, pulumi.Providers(aws))
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	ci, err := ciidentity.New(ctx, "ci", &ciidentity.Args{
		Owner:               cfg.GitHubOwner,
		SourceRepo:          cfg.SourceRepo,
		Environment:         repos.ReleaseEnvironment, // the release job's, which holds the write key
		ExistingProviderARN: cfg.GitHubOIDCProviderARN,
		RepositoryARN:       reg.ARN,
	}, pulumi.Providers(aws))
	if err != nil {
		return nil, fmt.Errorf("ci identity: %w", err)
	}

	github, err := newGitHubProvider(ctx, pulumi.String(cfg.GitHubOwner))
	if err != nil {
		return nil, err
	}
	rp, err := repos.New(ctx, "repos", &repos.Args{
		Owner:      cfg.GitHubOwner,
		SourceRepo: cfg.SourceRepo,
		GitopsRepo: cfg.GitopsRepo,
		AppName:    cfg.AppName,
		PullSecret: pullsecret.SecretName,
		CI: repos.CIVariables{
			AWSRegion:       cfg.AWSRegion,
			RoleARN:         ci.RoleARN,
			ImageRepository: reg.RepositoryURL,
		},
		ArgoCDURL:       cfg.ArgoCDURL,
		Public:          cfg.PublicRepos,
		DeleteOnDestroy: cfg.ReposOnDestroy == ReposDelete,
	}, pulumi.Providers(github))
	if err != nil {
		return nil, fmt.Errorf("repos: %w", err)
	}

	tag := pulumi.String(cfg.BootstrapImageTag).ToStringOutput()
	if cfg.BootstrapImage {
		img, err := image.New(ctx, cfg.AppName+"-bootstrap", &image.Args{
			Files:         rp.SourceFiles,
			RepositoryURL: reg.RepositoryURL,
			RegistryID:    reg.RegistryID,
		}, pulumi.Providers(aws))
		if err != nil {
			return nil, fmt.Errorf("bootstrap image: %w", err)
		}
		// The digest ties the tag to a pushed image: overlays wait for the push.
		tag = img.RepoDigest.ApplyT(func(string) string { return img.Tag }).(pulumi.StringOutput)
	} else {
		ctx.Log.Warn(fmt.Sprintf("bootstrapImage is off: no image is built; the environments start from %s:%s, "+
			"which must exist in the repository", cfg.AppName, cfg.BootstrapImageTag), nil)
	}

	argo, err := deployArgoCD(ctx, cfg, rp, hubProvider, mon)
	if err != nil {
		return nil, err
	}

	owner := pulumi.String(cfg.GitHubOwner).ToStringOutput()
	ctx.Export(OutputKubeContext, pulumi.String(cfg.KubeContext))
	ctx.Export(OutputArgoCDNamespace, argo.Namespace)
	ctx.Export(OutputGitHubOwner, owner)
	ctx.Export(OutputSourceRepo, rp.SourceRepo)
	ctx.Export(OutputGitopsRepo, rp.GitopsRepo)
	ctx.Export(OutputImageRepository, reg.RepositoryURL)
	ctx.Export(OutputRepositoryARN, reg.ARN)
	ctx.Export(OutputRegistryID, reg.RegistryID)
	ctx.Export(OutputAWSRegion, pulumi.String(cfg.AWSRegion))
	ctx.Export(OutputCIRoleARN, ci.RoleARN)
	ctx.Export(OutputImageTag, tag)
	return &hubRefs{
		provider:        hubProvider,
		github:          github,
		aws:             aws,
		awsRegion:       pulumi.String(cfg.AWSRegion).ToStringOutput(),
		imageTag:        tag,
		repositoryARN:   reg.ARN,
		argocdNamespace: argo.Namespace,
		gitopsRepo:      rp.GitopsRepo,
		imageRepository: reg.RepositoryURL,
		repos:           rp,
	}, nil
}

// deployArgoCD installs Argo CD on the hub with its project, notifications
// and the two ApplicationSets.
func deployArgoCD(ctx *pulumi.Context, cfg *Config, rp *repos.Repos, hubProvider pulumi.ProviderResource, mon *monitoring.Monitoring) (*argocd.ArgoCD, error) {
	notify, slackKey, slackCredential := slackSettings(cfg)
	// One AppProject per app, named after it; the ApplicationSets name it as is.
	project := cfg.AppName
	notifications, err := argocd.NotificationsConfig(notify)
	if err != nil {
		return nil, err
	}
	sso, rbac, ssoSecret := argoCDAccess(cfg, project, cfg.AppName)
	argo, err := argocd.New(ctx, "argocd", &argocd.Args{
		Namespace:    cfg.ArgoCDNamespace,
		ChartVersion: cfg.ArgoCDChartVersion,
		Chart:        cfg.ArgoCDChart.Source(),
		Values: argocd.ValuesOptions{
			Insecure:      cfg.LocalLab,
			AdminEnabled:  cfg.ArgoCDAdminEnabled,
			HA:            cfg.ArgoCDHA,
			Metrics:       true, // the hub's monitoring scrapes Argo CD for the delivery dashboard and alerts
			ArgoCDURL:     cfg.ArgoCDURL,
			Notifications: notifications,
			SSO:           sso,
			RBAC:          rbac,
		},
		SSOClientSecret: ssoSecret,
		Project:         project,
		AppNamespace:    cfg.AppNamespace,
		GitopsRepoURL:   rp.GitopsSSHURL,
		DeployKey:       rp.ArgoCDDeployKey,
		WebhookSecret:   rp.WebhookSecret,
		SlackSecretKey:  slackKey,
		SlackCredential: slackCredential,
		After:           []pulumi.Resource{mon.Release},
	}, pulumi.Providers(hubProvider))
	if err != nil {
		return nil, fmt.Errorf("argocd: %w", err)
	}

	autoSubs, err := argocd.Subscriptions(notify, false)
	if err != nil {
		return nil, err
	}
	manualSubs, err := argocd.Subscriptions(notify, true)
	if err != nil {
		return nil, err
	}
	if _, err := appsets.New(ctx, "appsets", &appsets.Args{
		Namespace:         cfg.ArgoCDNamespace,
		Project:           project,
		AppName:           cfg.AppName,
		AppNamespace:      cfg.AppNamespace,
		RepoURL:           rp.GitopsSSHURL,
		AutoAnnotations:   autoSubs,
		ManualAnnotations: manualSubs,
		ArgoCD:            argo,
	}, pulumi.Providers(hubProvider)); err != nil {
		return nil, fmt.Errorf("applicationsets: %w", err)
	}

	return argo, nil
}

// slackSettings chooses the notification service and the credential that
// argocd-notifications-secret holds; without a credential, notifications
// are off (the argocd component warns).
func slackSettings(cfg *Config) (argocd.NotificationsOptions, string, pulumi.StringInput) {
	notify := argocd.NotificationsOptions{Channel: cfg.SlackChannel, ArgoCDURL: cfg.ArgoCDURL, ProdDeployers: cfg.Access.ProdDeployers}
	if !cfg.SlackConfigured() {
		return notify, "", nil
	}
	notify.Method = string(cfg.SlackMethod)
	key := argocd.SecretKeySlackToken
	if cfg.SlackMethod == SlackWebhook {
		key = argocd.SecretKeySlackWebhook
	}
	return notify, key, secretInput(slackCredential(cfg))
}

// stackSlack is this stack's Slack method, channel and credential for
// Alertmanager; the method is empty when no credential is set.
func stackSlack(cfg *Config) monitoring.SlackArgs {
	s := monitoring.SlackArgs{Channel: cfg.SlackChannel}
	if !cfg.SlackConfigured() {
		return s
	}
	s.Method = string(cfg.SlackMethod)
	s.Credential = secretInput(slackCredential(cfg))
	return s
}

// slackCredential is the bot token or the webhook URL, as slackMethod says.
func slackCredential(cfg *Config) Secret {
	if cfg.SlackMethod == SlackWebhook {
		return cfg.SlackWebhookURL
	}
	return cfg.SlackToken
}

// secretInput hands a secret config value to a resource, as a Pulumi secret.
func secretInput(s Secret) pulumi.StringInput {
	return pulumi.ToSecret(pulumi.String(s.Reveal())).(pulumi.StringOutput)
}

// hubOutput reads one of the hub's string outputs. A required one that is
// missing or empty means the hub has not been brought up (with this version
// of the program); an optional one reads as empty, so a hub updated by an
// older version does not stop the other stacks.
func hubOutput(ref *pulumi.StackReference, hubStack, name string, optional bool) pulumi.StringOutput {
	return ref.GetOutput(pulumi.String(name)).ApplyT(func(v any) (string, error) {
		if v == nil && optional {
			return "", nil
		}
		s, _ := v.(string)
		if v == nil || (s == "" && !optional) {
			return "", fmt.Errorf("hub stack %q has no output %q: run `pulumi up` on the hub first (README: stacks)", hubStack, name)
		}
		if _, ok := v.(string); !ok {
			return "", fmt.Errorf("hub stack %q: output %q is a %T, not a string", hubStack, name, v)
		}
		return s, nil
	}).(pulumi.StringOutput)
}

// referenceHub reads the hub's outputs and targets the hub's cluster, where
// this environment's cluster Secret goes.
func referenceHub(ctx *pulumi.Context, cfg *Config, ref *pulumi.StackReference) (*hubRefs, error) {
	out := func(name string) pulumi.StringOutput { return hubOutput(ref, cfg.HubStack, name, false) }
	provider, err := newKubeProvider(ctx, "hub", out(OutputKubeContext), cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	github, err := newGitHubProvider(ctx, out(OutputGitHubOwner))
	if err != nil {
		return nil, err
	}
	region := out(OutputAWSRegion)
	// Only the ECR pull credential needs AWS here.
	aws, err := newAWSProvider(ctx, "aws", region)
	if err != nil {
		return nil, err
	}
	return &hubRefs{
		provider:        provider,
		github:          github,
		aws:             aws,
		awsRegion:       region,
		imageTag:        out(OutputImageTag),
		repositoryARN:   out(OutputRepositoryARN),
		argocdNamespace: out(OutputArgoCDNamespace),
		gitopsRepo:      out(OutputGitopsRepo),
		imageRepository: out(OutputImageRepository),
	}, nil
}
