// Package repos provisions the app's two GitHub repositories and seeds their
// first content, which Git owns from then on.
package repos

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens; renaming one needs pulumi.Aliases.
const (
	TypeToken         = "gitops-platform:repos:Repos"
	OverlayTypeToken  = "gitops-platform:repos:Overlay"
	WorkflowTypeToken = "gitops-platform:repos:Workflow"
)

// WorkflowPath is the source repo's CI workflow. It is committed last
// (NewWorkflow): every push to main runs it, so the variables, the secret
// and the overlays it reads must exist first.
const WorkflowPath = ".github/workflows/ci.yaml"

// RepositoryAdminRoleID is GitHub's id of the repository admin role, the
// RepositoryRole bypass actor of the rulesets: the token that runs Pulumi
// belongs to a repository admin, and its commits (seed files, overlays,
// their deletion on destroy) go through the contents API, which a ruleset
// would otherwise refuse.
const repositoryAdminRoleID = 5

// Args configure the repos.
type Args struct {
	Owner      string
	SourceRepo string
	GitopsRepo string
	AppName    string
	PullSecret string
	// CI holds what the source repo's workflow reads as Actions variables.
	CI CIVariables
	// ArgoCDURL, when set, gets a webhook secret Argo CD checks and, when
	// GitHub can reach the URL (not localhost, loopback or private), a
	// webhook from the gitops repo, so syncs start in seconds instead of
	// at the next 3-minute poll.
	ArgoCDURL string
	// Public makes both repos public; they are private otherwise.
	Public bool
	// DeleteOnDestroy deletes the repos on destroy (the token needs the
	// delete_repo scope); they are archived otherwise, so nothing is lost.
	DeleteOnDestroy bool
}

// Registries the CI can push to.
const (
	RegistryECR  = "ecr"
	RegistryGHCR = "ghcr"
)

// CIVariables are the workflow's non-secret settings.
type CIVariables struct {
	// Registry is RegistryECR (the job assumes an AWS role) or RegistryGHCR
	// (it pushes with its own GITHUB_TOKEN); it picks the workflow's
	// release job.
	Registry        string
	ImageRepository pulumi.StringInput
	// AWSRegion and RoleARN: ECR only.
	AWSRegion string
	RoleARN   pulumi.StringInput
}

// variables are the Actions variables the workflow of this registry reads.
func (v CIVariables) variables() []ciVariable {
	if v.Registry == RegistryGHCR {
		return []ciVariable{{varImageRepository, v.ImageRepository}}
	}
	return []ciVariable{{varAWSRegion, pulumi.String(v.AWSRegion)}, {varAWSRoleARN, v.RoleARN}, {varECRRepository, v.ImageRepository}}
}

type ciVariable struct {
	name  string
	value pulumi.StringInput
}

// Names the workflow reads (see templates/source/github/workflows/ci.yaml.tmpl).
const (
	SecretGitopsDeployKey = "GITOPS_DEPLOY_KEY"
	varAWSRegion          = "AWS_REGION"
	varAWSRoleARN         = "AWS_ROLE_ARN"
	varECRRepository      = "ECR_REPOSITORY"
	varImageRepository    = "IMAGE_REPOSITORY"
	varGitopsRepo         = "GITOPS_REPO"
	varAppName            = "APP_NAME"
	// ReleaseEnvironment is the source repo's GitHub environment that holds
	// the write key; only main may deploy to it, and the CI's AWS role
	// trusts only jobs that run in it.
	ReleaseEnvironment = "release"
	// TestCheck is the CI job main requires on the source repo.
	TestCheck = "test"
	// GitHubActionsIntegrationID is GitHub Actions' app id: the only
	// source the required check is taken from.
	gitHubActionsIntegrationID = 15368
)

// Repos are the source repo (app, Dockerfile, CI) and the gitops repo (what runs).
type Repos struct {
	pulumi.ResourceState

	SourceRepo pulumi.StringOutput `pulumi:"sourceRepo"`
	GitopsRepo pulumi.StringOutput `pulumi:"gitopsRepo"`
	// GitopsSSHURL is how Argo CD clones the gitops repo.
	GitopsSSHURL pulumi.StringOutput `pulumi:"gitopsSshUrl"`
	// SourceFiles are the source repo's first content: what the first
	// image is built from.
	SourceFiles []File
	// ArgoCDDeployKey is the private half of the gitops repo's read-only
	// deploy key (OpenSSH), for Argo CD's repository Secret. Secret.
	ArgoCDDeployKey pulumi.StringOutput `pulumi:"argocdDeployKey"`
	// WebhookSecret signs the gitops repo's webhook to Argo CD (secret);
	// nil without ArgoCDURL. Not a `pulumi:` output: the SDK would allocate
	// one for the field, which a preview never resolves, and everything
	// built from it (Argo CD's Helm values) would be unknown at every preview.
	WebhookSecret pulumi.StringInput

	// workflow is the CI workflow's content, which NewWorkflow commits;
	// ciSettings are what it reads (Actions variables and secret).
	name       string
	workflow   string
	ciSettings []pulumi.Resource
}

// New creates both repos and commits their first content.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Repos, error) {
	if args == nil {
		return nil, fmt.Errorf("repos %s: args are required", name)
	}
	switch args.CI.Registry {
	case RegistryECR:
		if args.CI.RoleARN == nil {
			return nil, fmt.Errorf("repos %s: the CI's AWS role is required with ECR", name)
		}
	case RegistryGHCR:
	default:
		return nil, fmt.Errorf("repos %s: registry %q is neither %s nor %s", name, args.CI.Registry, RegistryECR, RegistryGHCR)
	}
	if args.CI.ImageRepository == nil {
		return nil, fmt.Errorf("repos %s: the image repository is required", name)
	}
	data := seedData{Owner: args.Owner, SourceRepo: args.SourceRepo, GitopsRepo: args.GitopsRepo, AppName: args.AppName,
		PullSecret: args.PullSecret, Registry: args.CI.Registry}
	seeds := map[string][]File{}
	for _, kind := range []string{"source", "gitops"} {
		files, err := seedFiles(kind, data)
		if err != nil {
			return nil, err
		}
		seeds[kind] = files // rendered before any resource, so a template error registers nothing
	}

	r := &Repos{name: name}
	if err := ctx.RegisterComponentResource(TypeToken, name, r, opts...); err != nil {
		return nil, err
	}
	source, err := newRepository(ctx, r, name+"-source", args.SourceRepo,
		fmt.Sprintf("Source of %s: app, Dockerfile and CI (managed by gitops-platform)", args.AppName), args.Public, args.DeleteOnDestroy)
	if err != nil {
		return nil, err
	}
	gitops, err := newRepository(ctx, r, name+"-gitops", args.GitopsRepo,
		fmt.Sprintf("Desired state of %s per environment, followed by Argo CD (managed by gitops-platform)", args.AppName), args.Public, args.DeleteOnDestroy)
	if err != nil {
		return nil, err
	}
	var seeded []pulumi.Resource
	for _, seed := range []struct {
		kind string
		repo *github.Repository
	}{{"source", source}, {"gitops", gitops}} {
		for _, f := range seeds[seed.kind] {
			if seed.kind == "source" && f.Path == WorkflowPath {
				r.workflow = f.Content
				continue
			}
			file, err := seedFile(ctx, seedFileName(name, seed.kind, f.Path), seed.repo.Name, f.Path, pulumi.String(f.Content), pulumi.Parent(r))
			if err != nil {
				return nil, err
			}
			seeded = append(seeded, file)
		}
	}
	if r.workflow == "" {
		return nil, fmt.Errorf("repos %s: the source templates have no %s", name, WorkflowPath)
	}

	// Argo CD reads the gitops repo with a key that cannot push; the CI
	// pushes tag bumps with one that can, and only to that repo.
	argoKey, err := deployKey(ctx, r, name+"-argocd-key", gitops.Name, "argocd (read-only, gitops-platform)", true)
	if err != nil {
		return nil, err
	}
	ciKey, err := deployKey(ctx, r, name+"-ci-key", gitops.Name, "source CI tag bumps (gitops-platform)", false)
	if err != nil {
		return nil, err
	}
	// The write key is a secret of the `release` environment, which only
	// main may deploy to: a workflow on any other branch cannot read it,
	// and deploy keys bypass the gitops ruleset.
	release, err := releaseEnvironment(ctx, r, name, source.Name)
	if err != nil {
		return nil, err
	}
	ciSecret, err := github.NewActionsEnvironmentSecret(ctx, name+"-ci-deploy-key-release", &github.ActionsEnvironmentSecretArgs{
		Repository:  source.Name,
		Environment: release.environment,
		SecretName:  pulumi.String(SecretGitopsDeployKey),
		Value:       pulumi.ToSecret(ciKey.PrivateKeyOpenssh).(pulumi.StringOutput),
	}, pulumi.Parent(r), pulumi.DependsOn([]pulumi.Resource{release.mainOnly}))
	if err != nil {
		return nil, fmt.Errorf("release environment secret: %w", err)
	}
	r.ciSettings = append(r.ciSettings, ciSecret)
	for _, v := range append(args.CI.variables(),
		ciVariable{varGitopsRepo, pulumi.Sprintf("%s/%s", args.Owner, gitops.Name)},
		ciVariable{varAppName, pulumi.String(args.AppName)},
	) {
		variable, err := github.NewActionsVariable(ctx, name+"-var-"+strings.ToLower(strings.ReplaceAll(v.name, "_", "-")), &github.ActionsVariableArgs{
			Repository:   source.Name,
			VariableName: pulumi.String(v.name),
			Value:        v.value,
		}, pulumi.Parent(r))
		if err != nil {
			return nil, fmt.Errorf("actions variable %s: %w", v.name, err)
		}
		r.ciSettings = append(r.ciSettings, variable)
	}
	// The rulesets come after the first content, which they would refuse
	// to a token outside their bypass list.
	if err := protect(ctx, r, name, source.Name, gitops.Name, seeded); err != nil {
		return nil, err
	}
	if args.ArgoCDURL != "" {
		secret, err := webhook(ctx, r, name, gitops.Name, args.ArgoCDURL)
		if err != nil {
			return nil, err
		}
		r.WebhookSecret = secret
	}

	r.SourceFiles = seeds["source"]
	r.SourceRepo = source.Name
	r.GitopsRepo = gitops.Name
	// The same URL GitHub reports as ssh_url, known before the repo exists.
	r.GitopsSSHURL = pulumi.Sprintf("git@github.com:%s/%s.git", args.Owner, gitops.Name)
	r.ArgoCDDeployKey = pulumi.ToSecret(argoKey.PrivateKeyOpenssh).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"sourceRepo":      r.SourceRepo,
		"gitopsRepo":      r.GitopsRepo,
		"gitopsSshUrl":    r.GitopsSSHURL,
		"argocdDeployKey": r.ArgoCDDeployKey,
	}); err != nil {
		return nil, err
	}
	return r, nil
}

func newRepository(ctx *pulumi.Context, parent pulumi.Resource, name, repoName, description string, public, deleteOnDestroy bool) (*github.Repository, error) {
	visibility := "private"
	if public {
		visibility = "public"
	}
	repo, err := github.NewRepository(ctx, name, &github.RepositoryArgs{
		Name:                pulumi.String(repoName),
		Description:         pulumi.String(description),
		Visibility:          pulumi.String(visibility),
		AutoInit:            pulumi.Bool(true), // seedFile commits need a main branch to commit to
		DeleteBranchOnMerge: pulumi.Bool(true),
		VulnerabilityAlerts: pulumi.Bool(true),
		HasIssues:           pulumi.Bool(true),
		HasWiki:             pulumi.Bool(false),
		HasProjects:         pulumi.Bool(false),
		AllowMergeCommit:    pulumi.Bool(false),
		AllowSquashMerge:    pulumi.Bool(true),
		AllowRebaseMerge:    pulumi.Bool(true),
		// Archived, not deleted, on destroy unless the stack says delete:
		// nothing is lost, and the token needs no delete_repo scope.
		ArchiveOnDestroy: pulumi.Bool(!deleteOnDestroy),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("github repository %s: %w", repoName, err)
	}
	return repo, nil
}

// seedFile commits a file once. Later changes to it belong to Git (people and
// the CI), so Pulumi ignores drift in its content: a second `pulumi up` after
// the CI bumped a tag shows no change. A destroy leaves the file alone: the
// repository's own deletion or archiving decides what becomes of it, and an
// archived repo keeps its content.
func seedFile(ctx *pulumi.Context, name string, repo pulumi.StringInput, filePath string, content pulumi.StringInput,
	opts ...pulumi.ResourceOption,
) (*github.RepositoryFile, error) {
	opts = append(opts, pulumi.IgnoreChanges([]string{"content"}), pulumi.RetainOnDelete(true))
	f, err := github.NewRepositoryFile(ctx, name, &github.RepositoryFileArgs{
		Repository:        repo,
		Branch:            pulumi.String("main"),
		File:              pulumi.String(filePath),
		Content:           content,
		CommitMessage:     pulumi.String("Seed " + filePath + " (gitops-platform)"),
		OverwriteOnCreate: pulumi.Bool(true), // auto_init's README is replaced
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", filePath, err)
	}
	return f, nil
}

// seedFileName is the resource name of a seeded file.
func seedFileName(name, kind, filePath string) string {
	return fmt.Sprintf("%s-%s-%s", name, kind, fileSlug(filePath))
}

// WorkflowArgs configure the CI workflow's commit.
type WorkflowArgs struct {
	// Repos made the source repo and what the workflow reads.
	Repos *Repos
	// After are what else the workflow's first run reads: the overlays its
	// tag bump edits.
	After []pulumi.Resource
}

// Workflow is the source repo's CI workflow, committed after everything
// its first run reads, so the first run a new user sees is green.
type Workflow struct {
	pulumi.ResourceState

	Path pulumi.StringOutput `pulumi:"path"`
}

// NewWorkflow commits the CI workflow once; Git owns it afterwards.
func NewWorkflow(ctx *pulumi.Context, name string, args *WorkflowArgs, opts ...pulumi.ResourceOption) (*Workflow, error) {
	if args == nil || args.Repos == nil || args.Repos.workflow == "" {
		return nil, fmt.Errorf("workflow %s: the repos component (repos.New) is required", name)
	}
	w := &Workflow{}
	if err := ctx.RegisterComponentResource(WorkflowTypeToken, name, w, opts...); err != nil {
		return nil, err
	}
	after := append(append([]pulumi.Resource{}, args.Repos.ciSettings...), args.After...)
	// Committed by an earlier version as a child of the repos component:
	// the alias keeps that file, instead of deleting and re-seeding it.
	file, err := seedFile(ctx, seedFileName(args.Repos.name, "source", WorkflowPath), args.Repos.SourceRepo, WorkflowPath,
		pulumi.String(args.Repos.workflow), pulumi.Parent(w), pulumi.DependsOn(after),
		pulumi.Aliases([]pulumi.Alias{{Parent: args.Repos}}))
	if err != nil {
		return nil, err
	}
	w.Path = file.File
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{"path": w.Path}); err != nil {
		return nil, err
	}
	return w, nil
}

// fileSlug turns a path into a resource-name fragment.
func fileSlug(p string) string {
	return strings.NewReplacer("/", "-", ".", "-").Replace(p)
}
