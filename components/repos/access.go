package repos

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// deployKey makes an ED25519 key pair and installs its public half on repo.
func deployKey(ctx *pulumi.Context, parent pulumi.Resource, name string, repo pulumi.StringInput, title string, readOnly bool) (*tls.PrivateKey, error) {
	key, err := tls.NewPrivateKey(ctx, name, &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("deploy key %s: %w", title, err)
	}
	if _, err := github.NewRepositoryDeployKey(ctx, name, &github.RepositoryDeployKeyArgs{
		Repository: repo,
		Title:      pulumi.String(title),
		Key:        key.PublicKeyOpenssh,
		ReadOnly:   pulumi.Bool(readOnly),
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("deploy key %s: %w", title, err)
	}
	return key, nil
}

// environment is a GitHub environment of the source repo and the rule that
// only main deploys to it.
type environment struct {
	environment pulumi.StringOutput
	mainOnly    pulumi.Resource
}

// releaseEnvironment makes the source repo's `release` environment, which
// only the main branch may deploy to, with no bypass for admins.
func releaseEnvironment(ctx *pulumi.Context, parent pulumi.Resource, name string, source pulumi.StringInput) (*environment, error) {
	env, err := github.NewRepositoryEnvironment(ctx, name+"-release", &github.RepositoryEnvironmentArgs{
		Repository:      source,
		Environment:     pulumi.String(ReleaseEnvironment),
		CanAdminsBypass: pulumi.Bool(false),
		DeploymentBranchPolicy: &github.RepositoryEnvironmentDeploymentBranchPolicyArgs{
			CustomBranchPolicies: pulumi.Bool(true),
			ProtectedBranches:    pulumi.Bool(false),
		},
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("release environment: %w", err)
	}
	mainOnly, err := github.NewRepositoryEnvironmentDeploymentPolicy(ctx, name+"-release-main", &github.RepositoryEnvironmentDeploymentPolicyArgs{
		Repository:    source,
		Environment:   env.Environment,
		BranchPattern: pulumi.String("main"),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("release environment's branch policy: %w", err)
	}
	return &environment{environment: env.Environment, mainOnly: mainOnly}, nil
}

// protect puts rulesets on both repos' default branch, after the seeded
// files. The gitops repo's main takes changes by pull request from people,
// while deploy keys (the CI's tag bumps) may push; the source repo's main
// takes reviewed pull requests whose CI test job passed. Neither allows
// force pushes or deletion.
// Repository admins bypass both: Pulumi commits through the contents API
// as the token's user (overlays, the workflow, deletions on destroy).
func protect(ctx *pulumi.Context, parent pulumi.Resource, name string, source, gitops pulumi.StringInput, after []pulumi.Resource) error {
	admins := github.RepositoryRulesetBypassActorArgs{
		ActorId: pulumi.Int(repositoryAdminRoleID), ActorType: pulumi.String("RepositoryRole"), BypassMode: pulumi.String("always"),
	}
	opts := []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn(after)}
	mainBranch := &github.RepositoryRulesetConditionsArgs{
		RefName: github.RepositoryRulesetConditionsRefNameArgs{
			Includes: pulumi.ToStringArray([]string{"~DEFAULT_BRANCH"}),
			Excludes: pulumi.StringArray{},
		},
	}
	if _, err := github.NewRepositoryRuleset(ctx, name+"-gitops-main", &github.RepositoryRulesetArgs{
		Name:        pulumi.String("main: reviewed changes and CI tag bumps"),
		Repository:  gitops,
		Target:      pulumi.String("branch"),
		Enforcement: pulumi.String("active"),
		Conditions:  mainBranch,
		BypassActors: github.RepositoryRulesetBypassActorArray{
			github.RepositoryRulesetBypassActorArgs{ActorType: pulumi.String("DeployKey"), BypassMode: pulumi.String("always")},
			admins,
		},
		Rules: github.RepositoryRulesetRulesArgs{
			Deletion:       pulumi.Bool(true),
			NonFastForward: pulumi.Bool(true),
			PullRequest: &github.RepositoryRulesetRulesPullRequestArgs{
				RequiredApprovingReviewCount: pulumi.Int(1),
				DismissStaleReviewsOnPush:    pulumi.Bool(true),
			},
		},
	}, opts...); err != nil {
		return fmt.Errorf("gitops ruleset: %w", err)
	}
	if _, err := github.NewRepositoryRuleset(ctx, name+"-source-main", &github.RepositoryRulesetArgs{
		Name:         pulumi.String("main: tested changes only"),
		Repository:   source,
		Target:       pulumi.String("branch"),
		Enforcement:  pulumi.String("active"),
		Conditions:   mainBranch,
		BypassActors: github.RepositoryRulesetBypassActorArray{admins},
		Rules: github.RepositoryRulesetRulesArgs{
			Deletion:       pulumi.Bool(true),
			NonFastForward: pulumi.Bool(true),
			// Changes by reviewed pull request, as on the gitops repo: a
			// push to main deploys to dev and staging.
			PullRequest: &github.RepositoryRulesetRulesPullRequestArgs{
				RequiredApprovingReviewCount: pulumi.Int(1),
				DismissStaleReviewsOnPush:    pulumi.Bool(true),
			},
			RequiredStatusChecks: &github.RepositoryRulesetRulesRequiredStatusChecksArgs{
				RequiredChecks: github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArray{
					// Only GitHub Actions may report the check: anyone who can
					// write could post a commit status named "test".
					github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs{
						Context: pulumi.String(TestCheck), IntegrationId: pulumi.Int(gitHubActionsIntegrationID),
					},
				},
			},
		},
	}, opts...); err != nil {
		return fmt.Errorf("source ruleset: %w", err)
	}
	return nil
}

// WebhookPath is Argo CD's endpoint for Git webhooks.
const webhookPath = "/api/webhook"

// webhook tells Argo CD about every push to the gitops repo, signed with a
// generated secret that Argo CD checks.
func webhook(ctx *pulumi.Context, parent pulumi.Resource, name string, gitops pulumi.StringInput, argocdURL string) (pulumi.StringOutput, error) {
	secret, err := random.NewRandomPassword(ctx, name+"-webhook-secret", &random.RandomPasswordArgs{
		Length: pulumi.Int(40), Special: pulumi.Bool(false),
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("webhook secret: %w", err)
	}
	// The provider marks it secret too; saying so here keeps it secret
	// wherever it flows, whatever the provider does. Argo CD checks it
	// even with no webhook: a forged push event is refused.
	result := pulumi.ToSecret(secret.Result).(pulumi.StringOutput)
	if why := unreachableByGitHub(argocdURL); why != "" {
		ctx.Log.Warn(fmt.Sprintf("no webhook from the gitops repo to %s: %s, and GitHub refuses such a URL (422). "+
			"Argo CD polls the repo every 3 minutes instead; a URL GitHub can reach gets the webhook", argocdURL, why),
			&pulumi.LogArgs{Resource: parent})
		return result, nil
	}
	if _, err := github.NewRepositoryWebhook(ctx, name+"-argocd-webhook", &github.RepositoryWebhookArgs{
		Repository: gitops,
		Events:     pulumi.ToStringArray([]string{"push"}),
		Active:     pulumi.Bool(true),
		Configuration: &github.RepositoryWebhookConfigurationArgs{
			Url:         pulumi.String(strings.TrimSuffix(argocdURL, "/") + webhookPath),
			ContentType: pulumi.String("json"),
			Secret:      result,
			InsecureSsl: pulumi.Bool(false),
		},
	}, pulumi.Parent(parent)); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("argocd webhook: %w", err)
	}
	return result, nil
}

// specialUseDomains never resolve on the public Internet (RFC 6761's
// test, example and invalid; mDNS's local; home.arpa; ICANN's
// internal).
var specialUseDomains = []string{"local", "internal", "home.arpa", "test", "example", "invalid"}

// unreachableByGitHub says why GitHub cannot deliver to rawURL's host, or
// "" when it may: GitHub refuses webhook URLs "not reachable over the
// public Internet" (localhost, loopback and private addresses). A public
// name that resolves to a private address is not caught here: the program
// resolves nothing.
func unreachableByGitHub(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return "it has no host"
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case ip.IsLoopback():
			return "its host is a loopback address"
		case ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsUnspecified(), ip.Is4() && cgNAT.Contains(ip):
			return "its host is a private address"
		}
		return ""
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "its host is localhost"
	}
	for _, d := range specialUseDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return "its host is under ." + d + ", which the public Internet does not resolve"
		}
	}
	if !strings.Contains(host, ".") {
		return "its host is a single-label name"
	}
	return ""
}

// cgNAT is the carrier-grade NAT range (RFC 6598), private too.
var cgNAT = netip.MustParsePrefix("100.64.0.0/10")
