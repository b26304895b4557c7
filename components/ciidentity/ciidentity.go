// Package ciidentity gives the source repo's GitHub Actions workflow an AWS
// identity through OIDC: no long-lived AWS key exists for the CI.
package ciidentity

import (
	"fmt"

	"github.com/gitops-platform/gitops-platform/components/internal/policydoc"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:ciidentity:CIIdentity"

// GitHub's OIDC issuer and the audience AWS's credential action asks for.
const (
	issuerURL = "https://token.actions.githubusercontent.com"
	issuer    = "token.actions.githubusercontent.com"
	audience  = "sts.amazonaws.com"
)

// pushActions are AWS's documented push policy for one repository (ECR's
// "pushing an image" permissions), BatchGetImage included: a client that
// reads a manifest before it pushes is refused without it.
var pushActions = []string{
	"ecr:BatchCheckLayerAvailability",
	"ecr:BatchGetImage",
	"ecr:CompleteLayerUpload",
	"ecr:InitiateLayerUpload",
	"ecr:PutImage",
	"ecr:UploadLayerPart",
}

// Args configure the CI's identity.
type Args struct {
	// Owner and SourceRepo name the only repository, and Environment the
	// only GitHub environment of it, whose jobs may assume the role.
	Owner       string
	SourceRepo  string
	Environment string
	// ExistingProviderARN reuses the account's GitHub OIDC provider (an
	// account holds one per URL); empty creates it.
	ExistingProviderARN string
	// RepositoryARN is the ECR repository the CI pushes to.
	RepositoryARN pulumi.StringInput
}

// CIIdentity is the OIDC provider and the role the CI assumes.
type CIIdentity struct {
	pulumi.ResourceState

	ProviderARN pulumi.StringOutput `pulumi:"providerArn"`
	RoleARN     pulumi.StringOutput `pulumi:"roleArn"`
}

// Subject is the only token subject the role trusts: jobs of one repo that
// run in one GitHub environment (GitHub writes this subject for every job
// with an environment, whatever its branch; the environment's own branch
// policy says which branches may run there).
func Subject(owner, repo, environment string) string {
	return fmt.Sprintf("repo:%s/%s:environment:%s", owner, repo, environment)
}

// trustPolicy lets GitHub's OIDC tokens for that subject, and no other,
// assume the role.
func trustPolicy(providerARN, owner, repo, environment string) policydoc.Document {
	return policydoc.New(policydoc.Statement{
		Sid:       "GitHubActionsOneEnvironment",
		Effect:    "Allow",
		Principal: map[string]string{"Federated": providerARN},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]string{"StringEquals": {
			issuer + ":aud": audience,
			issuer + ":sub": Subject(owner, repo, environment),
		}},
	})
}

// pushPolicy allows logging in to ECR and pushing to one repository.
func pushPolicy(repositoryARN string) policydoc.Document {
	return policydoc.New(
		// GetAuthorizationToken has no resource-level permissions.
		policydoc.Allow("EcrLogin", []string{"ecr:GetAuthorizationToken"}, []string{"*"}),
		policydoc.Allow("PushToTheAppRepository", pushActions, []string{repositoryARN}),
		// A re-run of a release looks its tag up before it pushes (tags are immutable).
		policydoc.Allow("LookUpTheAppsTags", []string{"ecr:DescribeImages"}, []string{repositoryARN}),
	)
}

// New creates (or reuses) the OIDC provider and creates the role.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*CIIdentity, error) {
	if args == nil {
		return nil, fmt.Errorf("ciidentity %s: args are required", name)
	}
	if args.Owner == "" || args.SourceRepo == "" || args.Environment == "" {
		return nil, fmt.Errorf("ci identity %s: owner, source repo and environment are required", name)
	}
	c := &CIIdentity{}
	if err := ctx.RegisterComponentResource(TypeToken, name, c, opts...); err != nil {
		return nil, err
	}
	providerARN := pulumi.String(args.ExistingProviderARN).ToStringOutput()
	if args.ExistingProviderARN == "" {
		p, err := iam.NewOpenIdConnectProvider(ctx, name+"-github-oidc", &iam.OpenIdConnectProviderArgs{
			Url:           pulumi.String(issuerURL),
			ClientIdLists: pulumi.StringArray{pulumi.String(audience)},
		}, pulumi.Parent(c))
		if err != nil {
			return nil, fmt.Errorf("github oidc provider: %w", err)
		}
		providerARN = p.Arn
	}
	trust := providerARN.ApplyT(func(arn string) (string, error) {
		return trustPolicy(arn, args.Owner, args.SourceRepo, args.Environment).JSON()
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Description:        pulumi.String(fmt.Sprintf("GitHub Actions of %s/%s (environment %s) pushing images", args.Owner, args.SourceRepo, args.Environment)),
		AssumeRolePolicy:   trust,
		MaxSessionDuration: pulumi.Int(3600),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("ci role: %w", err)
	}
	push := args.RepositoryARN.ToStringOutput().ApplyT(func(arn string) (string, error) {
		return pushPolicy(arn).JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-push", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: push,
	}, pulumi.Parent(c)); err != nil {
		return nil, fmt.Errorf("ci push policy: %w", err)
	}
	c.ProviderARN = providerARN
	c.RoleARN = role.Arn
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"providerArn": c.ProviderARN, "roleArn": c.RoleARN}); err != nil {
		return nil, err
	}
	return c, nil
}
