// Package repos provisions the app's two GitHub repositories and seeds their
// first content, which Git owns from then on.
package repos

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens; renaming one needs pulumi.Aliases.
const (
	TypeToken        = "gitops-platform:repos:Repos"
	OverlayTypeToken = "gitops-platform:repos:Overlay"
)

// Args configure the repos.
type Args struct {
	Owner      string
	SourceRepo string
	GitopsRepo string
	AppName    string
	PullSecret string
}

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
}

// New creates both repos and commits their first content.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Repos, error) {
	data := SeedData{Owner: args.Owner, SourceRepo: args.SourceRepo, GitopsRepo: args.GitopsRepo, AppName: args.AppName, PullSecret: args.PullSecret}
	seeds := map[string][]File{}
	for _, kind := range []string{"source", "gitops"} {
		files, err := SeedFiles(kind, data)
		if err != nil {
			return nil, err
		}
		seeds[kind] = files // rendered before any resource, so a template error registers nothing
	}

	r := &Repos{}
	if err := ctx.RegisterComponentResource(TypeToken, name, r, opts...); err != nil {
		return nil, err
	}
	source, err := newRepository(ctx, r, name+"-source", args.SourceRepo,
		fmt.Sprintf("Source of %s: app, Dockerfile and CI (managed by gitops-platform)", args.AppName))
	if err != nil {
		return nil, err
	}
	gitops, err := newRepository(ctx, r, name+"-gitops", args.GitopsRepo,
		fmt.Sprintf("Desired state of %s per environment, followed by Argo CD (managed by gitops-platform)", args.AppName))
	if err != nil {
		return nil, err
	}
	for _, seed := range []struct {
		kind string
		repo *github.Repository
	}{{"source", source}, {"gitops", gitops}} {
		for _, f := range seeds[seed.kind] {
			if _, err := seedFile(ctx, fmt.Sprintf("%s-%s-%s", name, seed.kind, fileSlug(f.Path)), seed.repo.Name, f.Path,
				pulumi.String(f.Content), pulumi.Parent(r)); err != nil {
				return nil, err
			}
		}
	}

	// Argo CD reads the gitops repo with a key that cannot push.
	key, err := tls.NewPrivateKey(ctx, name+"-argocd-key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}, pulumi.Parent(r))
	if err != nil {
		return nil, fmt.Errorf("argocd deploy key: %w", err)
	}
	if _, err := github.NewRepositoryDeployKey(ctx, name+"-argocd-key", &github.RepositoryDeployKeyArgs{
		Repository: gitops.Name,
		Title:      pulumi.String("argocd (read-only, gitops-platform)"),
		Key:        key.PublicKeyOpenssh,
		ReadOnly:   pulumi.Bool(true),
	}, pulumi.Parent(r)); err != nil {
		return nil, fmt.Errorf("argocd deploy key: %w", err)
	}

	r.SourceFiles = seeds["source"]
	r.SourceRepo = source.Name
	r.GitopsRepo = gitops.Name
	// The same URL GitHub reports as ssh_url, known before the repo exists.
	r.GitopsSSHURL = pulumi.Sprintf("git@github.com:%s/%s.git", args.Owner, gitops.Name)
	r.ArgoCDDeployKey = pulumi.ToSecret(key.PrivateKeyOpenssh).(pulumi.StringOutput)
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

func newRepository(ctx *pulumi.Context, parent pulumi.Resource, name, repoName, description string) (*github.Repository, error) {
	repo, err := github.NewRepository(ctx, name, &github.RepositoryArgs{
		Name:                pulumi.String(repoName),
		Description:         pulumi.String(description),
		Visibility:          pulumi.String("private"),
		AutoInit:            pulumi.Bool(true), // seedFile commits need a main branch to commit to
		DeleteBranchOnMerge: pulumi.Bool(true),
		VulnerabilityAlerts: pulumi.Bool(true),
		HasIssues:           pulumi.Bool(true),
		HasWiki:             pulumi.Bool(false),
		HasProjects:         pulumi.Bool(false),
		AllowMergeCommit:    pulumi.Bool(false),
		AllowSquashMerge:    pulumi.Bool(true),
		AllowRebaseMerge:    pulumi.Bool(true),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("github repository %s: %w", repoName, err)
	}
	return repo, nil
}

// seedFile commits a file once. Later changes to it belong to Git (people and
// the CI), so Pulumi ignores drift in its content: a second `pulumi up` after
// the CI bumped a tag shows no change.
func seedFile(ctx *pulumi.Context, name string, repo pulumi.StringInput, filePath string, content pulumi.StringInput,
	opts ...pulumi.ResourceOption,
) (*github.RepositoryFile, error) {
	opts = append(opts, pulumi.IgnoreChanges([]string{"content"}))
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

// fileSlug turns a path into a resource-name fragment.
func fileSlug(p string) string {
	return strings.NewReplacer("/", "-", ".", "-").Replace(p)
}
