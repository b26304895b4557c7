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
		need := []struct{ scope, key, why string }{
			{"repo", KeyGitHubOwner, "the repos, their settings and files"},
			{"workflow", KeyGitHubOwner, "the CI workflow in .github/workflows"},
		}
		if cfg.ReposOnDestroy == ReposDelete {
			need = append(need, struct{ scope, key, why string }{"delete_repo", KeyReposOnDestroy, "deleting the repos on destroy"})
		}
		if cfg.Registry == RegistryGHCR && cfg.BootstrapImage {
			need = append(need, struct{ scope, key, why string }{"write:packages", KeyRegistry, "pushing the first image to ghcr.io"})
		}
		for _, n := range need {
			if !hasScope(a.Scopes, n.scope) {
				value := cfg.GitHubOwner
				switch n.key {
				case KeyReposOnDestroy:
					value = string(cfg.ReposOnDestroy)
				case KeyRegistry:
					value = string(cfg.Registry)
				}
				add(n.key, value, fmt.Sprintf("the GitHub token lacks the %s scope, needed for %s (it has: %s)",
					n.scope, n.why, strings.Join(a.Scopes, ", ")))
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return gh, nil
}

// hasScope reports whether a classic token's scopes include scope; repo
// and write:packages come with the broader scopes GitHub names.
func hasScope(scopes []string, scope string) bool {
	if slices.Contains(scopes, scope) {
		return true
	}
	return scope == "read:packages" && slices.Contains(scopes, "write:packages")
}
