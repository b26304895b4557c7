package infra

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gitops-platform/gitops-platform/internal/githubapi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GitHubAccess is what the hub learns from GitHub before it creates
// anything: the owner's account and plan, and the token Pulumi acts with.
type GitHubAccess struct {
	// Account is nil when GitHub was not asked (the offline render).
	Account *githubapi.Account
	// TokenLogin is the token's user ("" when not asked).
	TokenLogin string
	// Token is the token the github provider uses; the first image is
	// pushed to ghcr.io with it.
	Token Secret
}

// GitHubReader asks GitHub about the owner.
type GitHubReader func(ctx *pulumi.Context, owner string) (*GitHubAccess, error)

type githubReaderKey struct{}

// WithGitHubReader replaces how Run asks GitHub; the offline render asks
// nothing, and tests answer as GitHub would.
func WithGitHubReader(ctx *pulumi.Context, r GitHubReader) *pulumi.Context {
	return ctx.WithValue(githubReaderKey{}, r)
}

func githubReader(ctx *pulumi.Context) GitHubReader {
	if r, ok := ctx.Value(githubReaderKey{}).(GitHubReader); ok {
		return r
	}
	return ReadGitHub
}

// ReadGitHub asks GitHub's API with the github provider's own settings:
// github:token or GITHUB_TOKEN, github:baseUrl or GITHUB_BASE_URL.
func ReadGitHub(ctx *pulumi.Context, owner string) (*GitHubAccess, error) {
	setting := func(key, env string) string {
		if v, ok := ctx.GetConfig("github:" + key); ok && v != "" {
			return v
		}
		return os.Getenv(env)
	}
	client := &githubapi.Client{BaseURL: setting("baseUrl", "GITHUB_BASE_URL"), Token: setting("token", "GITHUB_TOKEN")}
	account, err := client.Account(ctx.Context(), owner)
	if err != nil {
		return nil, err
	}
	return &GitHubAccess{Account: account, TokenLogin: account.TokenLogin, Token: NewSecret(client.Token)}, nil
}

// checkGitHub refuses, before anything is created, what the owner's plan
// or the token cannot do, each problem naming the key that chooses it.
func checkGitHub(ctx *pulumi.Context, cfg *Config) (*GitHubAccess, error) {
	gh, err := githubReader(ctx)(ctx, cfg.GitHubOwner)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyGitHubOwner), Value: cfg.GitHubOwner,
			Expected: "GitHub could not be asked about it: " + err.Error()}}}
	}
	a := gh.Account
	if a == nil {
		return gh, nil
	}
	var problems []Problem
	add := func(key, value, expected string) {
		problems = append(problems, Problem{Key: FullKey(key), Value: value, Expected: expected})
	}
	kind := "user"
	if a.Organization {
		kind = "organization"
	}
	switch {
	case a.Free() && !cfg.PublicRepos:
		add(KeyPublicRepos, "false", fmt.Sprintf("the %s %s is on GitHub Free, which offers environments and rulesets on public "+
			"repositories only, and the platform needs both (the release environment holds the CI's write key; rulesets guard main). "+
			"Set publicRepos: true (the app's code and manifests become public; every secret stays in an environment), "+
			"or move %s to a paid plan (Pro, Team) to keep the repos private", kind, a.Login, a.Login))
	case a.Plan == "" && !cfg.PublicRepos:
		ctx.Log.Warn(fmt.Sprintf("GitHub does not show the plan of the %s %s to this token (an organization's plan is shown to its "+
			"owners, with the admin:org scope): on GitHub Free private repositories have no environments or rulesets and "+
			"`pulumi up` fails half-way; set publicRepos: true there", kind, a.Login), nil)
	}
	if a.Scopes != nil { // a classic token: GitHub lists its scopes
		type need struct{ scope, key, value, why string }
		needs := []need{
			{"repo", KeyGitHubOwner, cfg.GitHubOwner, "the repos, their settings and files"},
			{"workflow", KeyGitHubOwner, cfg.GitHubOwner, "the CI workflow in .github/workflows"},
		}
		if cfg.ReposOnDestroy == ReposDelete {
			needs = append(needs, need{"delete_repo", KeyReposOnDestroy, string(cfg.ReposOnDestroy), "deleting the repos on destroy"})
		}
		if cfg.Registry == RegistryGHCR && cfg.BootstrapImage {
			needs = append(needs, need{"write:packages", KeyRegistry, string(cfg.Registry), "pushing the first image to ghcr.io"})
		}
		for _, n := range needs {
			if !slices.Contains(a.Scopes, n.scope) {
				add(n.key, n.value, fmt.Sprintf("the GitHub token lacks the %s scope, needed for %s (it has: %s)",
					n.scope, n.why, strings.Join(a.Scopes, ", ")))
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return gh, nil
}
