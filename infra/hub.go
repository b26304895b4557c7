package infra

import (
	"fmt"

	"github.com/gitops-platform/gitops-platform/components/appsets"
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// hubRefs is what every stack needs from the hub, whether it is the hub or
// reads the hub through a StackReference.
type hubRefs struct {
	provider pulumi.ProviderResource
	github   pulumi.ProviderResource
	registry Registry
	// aws, awsRegion and repositoryARN: ECR only.
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

// deployHub creates what all environments share, on the hub.
func deployHub(ctx *pulumi.Context, cfg *Config, gh *GitHubAccess, hubProvider pulumi.ProviderResource, mon *monitoring.Monitoring) (*hubRefs, error) {
	reg, err := newHubRegistry(ctx, cfg, gh)
	if err != nil {
		return nil, err
	}
	github, err := newGitHubProvider(ctx, pulumi.String(cfg.GitHubOwner))
	if err != nil {
		return nil, err
	}
	rp, err := repos.New(ctx, "repos", &repos.Args{
		Owner:           cfg.GitHubOwner,
		SourceRepo:      cfg.SourceRepo,
		GitopsRepo:      cfg.GitopsRepo,
		AppName:         cfg.AppName,
		PullSecret:      pullSecretName(cfg.Registry),
		CI:              reg.ci,
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
			RepositoryURL: reg.repositoryURL,
			Login:         reg.login,
			Platform:      cfg.BootstrapImagePlatform,
		}, imageProviders(reg)...)
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
	reg.export(ctx, cfg)
	ctx.Export(OutputArgoCDOpen, pulumi.String(argocdOpen(cfg, ctx.Stack())))
	if argo.AdminEnabled {
		ctx.Export(OutputArgoCDAdminPassword, argo.AdminPassword)
	}
	ctx.Export(OutputImageTag, tag)
	return &hubRefs{
		provider:        hubProvider,
		github:          github,
		registry:        reg.kind,
		aws:             reg.aws,
		awsRegion:       pulumi.String(cfg.AWSRegion).ToStringOutput(),
		imageTag:        tag,
		repositoryARN:   reg.repositoryARN,
		argocdNamespace: argo.Namespace,
		gitopsRepo:      rp.GitopsRepo,
		imageRepository: reg.repositoryURL,
		repos:           rp,
	}, nil
}

// deployArgoCD installs Argo CD on the hub with its project, notifications
// and the two ApplicationSets.
func deployArgoCD(ctx *pulumi.Context, cfg *Config, rp *repos.Repos, hubProvider pulumi.ProviderResource, mon *monitoring.Monitoring) (*argocd.ArgoCD, error) {
	slack := cfg.slack()
	notify := slack.notifications(cfg)
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
		SlackSecretKey:  slack.notificationsKey,
		SlackCredential: slack.credential,
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
		ArgoCD:            argo.Running,
	}, pulumi.Providers(hubProvider)); err != nil {
		return nil, fmt.Errorf("applicationsets: %w", err)
	}

	return argo, nil
}

// hubOutput reads one of the hub's string outputs. One that is missing or
// empty means the hub has not been brought up (with this version of the
// program).
func hubOutput(ref *pulumi.StackReference, hubStack, name string) pulumi.StringOutput {
	return ref.GetOutput(pulumi.String(name)).ApplyT(func(v any) (string, error) {
		s, ok := v.(string)
		switch {
		case v != nil && !ok:
			return "", fmt.Errorf("hub stack %q: output %q is a %T, not a string", hubStack, name, v)
		case s == "":
			return "", fmt.Errorf("hub stack %q has no output %q: run `pulumi up` on the hub first (README: Troubleshooting)", hubStack, name)
		}
		return s, nil
	}).(pulumi.StringOutput)
}

// hubRegistryKind reads which registry the hub chose, before anything is
// registered from it: a hub of an earlier version, without the output, used ECR.
func hubRegistryKind(ref *pulumi.StackReference, hubStack string) (Registry, error) {
	d, err := ref.GetOutputDetails(OutputRegistry)
	if err != nil {
		return "", fmt.Errorf("hub stack %q: output %q: %w", hubStack, OutputRegistry, err)
	}
	if d.Value == nil {
		return RegistryECR, nil
	}
	switch v := d.Value.(type) {
	case string:
		if r := Registry(v); r == RegistryECR || r == RegistryGHCR {
			return r, nil
		}
	}
	return "", fmt.Errorf("hub stack %q: output %q is %v, neither %s nor %s", hubStack, OutputRegistry, d.Value, RegistryECR, RegistryGHCR)
}

// imageProviders are the first image's providers: none but docker's with ghcr.
func imageProviders(reg *hubRegistry) []pulumi.ResourceOption {
	if reg.aws == nil {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Providers(reg.aws)}
}

// referenceHub reads the hub's outputs and targets the hub's cluster, where
// this environment's cluster Secret goes.
func referenceHub(ctx *pulumi.Context, cfg *Config, ref *pulumi.StackReference) (*hubRefs, error) {
	out := func(name string) pulumi.StringOutput { return hubOutput(ref, cfg.HubStack, name) }
	provider, err := newKubeProvider(ctx, "hub", out(OutputKubeContext), cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	github, err := newGitHubProvider(ctx, out(OutputGitHubOwner))
	if err != nil {
		return nil, err
	}
	kind, err := hubRegistryKind(ref, cfg.HubStack)
	if err != nil {
		return nil, err
	}
	refs := &hubRefs{
		provider:        provider,
		github:          github,
		registry:        kind,
		imageTag:        out(OutputImageTag),
		argocdNamespace: out(OutputArgoCDNamespace),
		gitopsRepo:      out(OutputGitopsRepo),
		imageRepository: out(OutputImageRepository),
	}
	if kind == RegistryECR {
		// Only the ECR pull credential needs AWS here.
		refs.awsRegion = out(OutputAWSRegion)
		refs.repositoryARN = out(OutputRepositoryARN)
		if refs.aws, err = newAWSProvider(ctx, "aws", refs.awsRegion); err != nil {
			return nil, err
		}
	}
	return refs, nil
}
