package infra

import (
	"fmt"
	"strings"

	"github.com/gitops-platform/gitops-platform/components/ciidentity"
	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/components/pullsecret"
	"github.com/gitops-platform/gitops-platform/components/registry"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Registry is where the app's images live.
type Registry string

const (
	// RegistryECR is AWS' registry, as in the seminar: the CI assumes an
	// AWS role, and each cluster refreshes a 12-hour pull token.
	RegistryECR Registry = repos.RegistryECR
	// RegistryGHCR is GitHub's container registry: nothing of AWS; the CI
	// pushes with its own GITHUB_TOKEN, and each cluster pulls with a
	// token a person supplies, or none when the package is public.
	RegistryGHCR Registry = repos.RegistryGHCR
	ghcrHost              = "ghcr.io"
)

// Config keys of the registry choice.
const (
	KeyRegistry          = "registry"
	KeyGHCRPullUsername  = "ghcrPullUsername"
	KeyGHCRPullToken     = "ghcrPullToken"
	KeyBootstrapPlatform = "bootstrapImagePlatform"
)

// ecrOnlyKeys configure ECR and what goes with it; a ghcr hub refuses them
// at anything but their default, instead of ignoring them.
var ecrOnlyKeys = []string{KeyAWSRegion, KeyRegistryKeep, KeyRegistryForceDelete, KeyRegistryProtect, KeyOIDCProviderARN}

// GHCRPull is a cluster's login to ghcr.io: a GitHub user and a classic
// token with read:packages. Without a token the cluster pulls anonymously,
// which works once the package is public.
type GHCRPull struct {
	Username string
	Token    Secret
}

// ghcrRepository is the image's name on ghcr.io: the owner in lower case,
// as the registry requires.
func ghcrRepository(owner, app string) string {
	return ghcrHost + "/" + strings.ToLower(owner) + "/" + app
}

func (p *parser) validateRegistry(c *Config) {
	switch c.Registry {
	case RegistryECR:
		// A joining stack learns the hub's registry from the hub
		// (newPullSecret); the hub knows its own.
		for _, k := range []string{KeyGHCRPullUsername, KeyGHCRPullToken} {
			if !c.Hub {
				break
			}
			if v, ok := p.raw.Values[FullKey(k)]; ok && v != "" {
				p.add(k, v, "only with registry: ghcr; with ECR each cluster's pull credential is made by the program")
			}
		}
	case RegistryGHCR:
		if c.Hub {
			for _, k := range ecrOnlyKeys {
				spec, _ := lookupKey(k)
				if v, ok := p.raw.Values[FullKey(k)]; ok && v != spec.def {
					p.add(k, v, "configures ECR, but registry is ghcr; remove it")
				}
			}
		}
	default:
		p.add(KeyRegistry, string(c.Registry), "expected ecr (AWS ECR, needs an AWS account) or ghcr (GitHub's container registry, needs nothing of AWS)")
	}
	switch {
	case c.GHCRPull.Token.IsSet() && c.GHCRPull.Username == "":
		p.add(KeyGHCRPullUsername, "", "required with ghcrPullToken: the GitHub user the token belongs to")
	case !c.GHCRPull.Token.IsSet() && c.GHCRPull.Username != "":
		p.add(KeyGHCRPullToken, "", "required with ghcrPullUsername: a classic token with read:packages, set with `pulumi config set --secret ghcrPullToken <token>`")
	case c.GHCRPull.Username != "" && !validGitHubOwner(c.GHCRPull.Username):
		p.add(KeyGHCRPullUsername, c.GHCRPull.Username, "expected a GitHub user name")
	}
	if c.Hub && c.BootstrapImagePlatform != image.PlatformAMD64 && c.BootstrapImagePlatform != image.PlatformARM64 {
		p.add(KeyBootstrapPlatform, c.BootstrapImagePlatform, fmt.Sprintf("expected %s or %s: the architecture of the clusters' nodes (make lab writes it)",
			image.PlatformAMD64, image.PlatformARM64))
	}
}

// hubRegistry is the registry as the hub makes it: where images go, how the
// CI and the first image push there.
type hubRegistry struct {
	kind Registry
	// aws is the AWS provider; nil with ghcr.
	aws           pulumi.ProviderResource
	repositoryURL pulumi.StringOutput
	// repositoryARN, registryID and ciRoleARN: ECR only.
	repositoryARN pulumi.StringOutput
	registryID    pulumi.StringOutput
	ciRoleARN     pulumi.StringOutput
	ci            repos.CIVariables
	login         image.Login
}

// newHubRegistry makes ECR with the CI's AWS identity, or names the image
// on ghcr.io, where the CI's own token pushes and nothing is created.
func newHubRegistry(ctx *pulumi.Context, cfg *Config, gh *GitHubAccess) (*hubRegistry, error) {
	if cfg.Registry == RegistryGHCR {
		url := pulumi.String(ghcrRepository(cfg.GitHubOwner, cfg.AppName)).ToStringOutput()
		user := gh.TokenLogin
		if user == "" {
			user = cfg.GitHubOwner
		}
		return &hubRegistry{
			kind:          RegistryGHCR,
			repositoryURL: url,
			ci:            repos.CIVariables{Registry: repos.RegistryGHCR, ImageRepository: url},
			login:         image.Login{Server: pulumi.String(ghcrHost), Username: pulumi.String(user), Password: secretInput(gh.Token)},
		}, nil
	}
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
	user, password := reg.Login(ctx)
	return &hubRegistry{
		kind:          RegistryECR,
		aws:           aws,
		repositoryURL: reg.RepositoryURL,
		repositoryARN: reg.ARN,
		registryID:    reg.RegistryID,
		ciRoleARN:     ci.RoleARN,
		ci: repos.CIVariables{Registry: repos.RegistryECR, ImageRepository: reg.RepositoryURL,
			AWSRegion: cfg.AWSRegion, RoleARN: ci.RoleARN},
		login: image.Login{Server: reg.RepositoryURL, Username: user, Password: password},
	}, nil
}

// exports are the hub's registry outputs; the ECR ones only with ECR.
func (r *hubRegistry) export(ctx *pulumi.Context, cfg *Config) {
	ctx.Export(OutputRegistry, pulumi.String(string(r.kind)))
	ctx.Export(OutputImageRepository, r.repositoryURL)
	if r.kind != RegistryECR {
		return
	}
	ctx.Export(OutputRepositoryARN, r.repositoryARN)
	ctx.Export(OutputRegistryID, r.registryID)
	ctx.Export(OutputAWSRegion, pulumi.String(cfg.AWSRegion))
	ctx.Export(OutputCIRoleARN, r.ciRoleARN)
}

// pullSecretName is the Secret the app's Deployment names for this registry.
func pullSecretName(kind Registry) string {
	if kind == RegistryGHCR {
		return pullsecret.GHCRSecretName
	}
	return pullsecret.SecretName
}

// newPullSecret gives this stack's cluster its pull credential: with ECR a
// refreshed token of an IAM user that may only pull, with ghcr the login
// the stack holds (none for a public package). It returns what the
// cluster's registration waits for.
func newPullSecret(ctx *pulumi.Context, cfg *Config, hub *hubRefs, appNamespace pulumi.StringInput,
	envProvider pulumi.ProviderResource) (pulumi.Resource, error) {
	if hub.registry == RegistryGHCR {
		var token pulumi.StringInput
		if cfg.GHCRPull.Token.IsSet() {
			token = secretInput(cfg.GHCRPull.Token)
		}
		pull, err := pullsecret.NewStatic(ctx, cfg.Environment+"-ghcr-pull", &pullsecret.StaticArgs{
			Server: ghcrHost, Name: pullsecret.GHCRSecretName,
			Username: cfg.GHCRPull.Username, Password: token,
			AppNamespace: appNamespace, KubeProvider: envProvider,
		})
		if err != nil {
			return nil, fmt.Errorf("ghcr pull secret: %w", err)
		}
		if token == nil {
			ctx.Log.Warn(fmt.Sprintf("no ghcrPullToken: %s's cluster pulls the app's image from ghcr.io without a login, "+
				"which works only once the package is public (GitHub makes a new package private); make it public in the "+
				"package's settings, or set ghcrPullUsername and ghcrPullToken (a classic token with read:packages)", cfg.Environment),
				&pulumi.LogArgs{Resource: pull})
		}
		return pull.Ready, nil
	}
	if cfg.GHCRPull.Token.IsSet() || cfg.GHCRPull.Username != "" {
		return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyGHCRPullToken), Value: "[secret]",
			Expected: "only with registry: ghcr, and the hub's registry is ecr; remove ghcrPullUsername and ghcrPullToken"}}}
	}
	pull, err := pullsecret.New(ctx, cfg.Environment+"-ecr-pull", &pullsecret.Args{
		Environment:   cfg.Environment,
		AppName:       cfg.AppName,
		Region:        hub.awsRegion,
		AppNamespace:  appNamespace,
		RepositoryARN: hub.repositoryARN,
		RepositoryURL: hub.imageRepository,
		AWSProvider:   hub.aws,
		KubeProvider:  envProvider,
	})
	if err != nil {
		return nil, fmt.Errorf("ecr pull secret: %w", err)
	}
	return pull.FirstRefresh, nil
}
