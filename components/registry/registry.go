// Package registry provisions the ECR repository the CI pushes the app's images to.
package registry

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:registry:Registry"

// Args configure the registry.
type Args struct {
	// Name is the repository name (the app's name).
	Name string
	// KeepImages is how many sha- tagged images the lifecycle policy keeps.
	KeepImages int
	// ForceDelete lets `pulumi destroy` remove a repository that still holds images.
	ForceDelete bool
	// Protect makes Pulumi refuse to delete the repository at all.
	Protect bool
}

// Registry is the ECR repository the CI pushes to, with its lifecycle policy.
type Registry struct {
	pulumi.ResourceState

	RepositoryURL pulumi.StringOutput `pulumi:"repositoryUrl"`
	RegistryID    pulumi.StringOutput `pulumi:"registryId"`
	ARN           pulumi.StringOutput `pulumi:"arn"`
}

// New creates the repository: tags immutable (a tag names one build forever,
// which is what makes a gitops revert a real rollback), scanned on push.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Registry, error) {
	if args == nil || args.Name == "" {
		return nil, fmt.Errorf("registry %s: a repository name is required", name)
	}
	policy, err := LifecyclePolicy(args.KeepImages)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", name, err)
	}
	r := &Registry{}
	if err := ctx.RegisterComponentResource(TypeToken, name, r, opts...); err != nil {
		return nil, err
	}
	repo, err := ecr.NewRepository(ctx, name, &ecr.RepositoryArgs{
		Name:               pulumi.String(args.Name),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			&ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("AES256")},
		},
		ForceDelete: pulumi.Bool(args.ForceDelete),
	}, pulumi.Parent(r), pulumi.Protect(args.Protect))
	if err != nil {
		return nil, fmt.Errorf("ecr repository: %w", err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(policy),
	}, pulumi.Parent(r)); err != nil {
		return nil, fmt.Errorf("ecr lifecycle policy: %w", err)
	}
	r.RepositoryURL = repo.RepositoryUrl
	r.RegistryID = repo.RegistryId
	r.ARN = repo.Arn
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"repositoryUrl": r.RepositoryURL,
		"registryId":    r.RegistryID,
		"arn":           r.ARN,
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// Login is a login to the repository's registry for a push (the docker
// CLI's user and a 12-hour token), read when Pulumi runs.
func (r *Registry) Login(ctx *pulumi.Context) (username, password pulumi.StringOutput) {
	token := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{RegistryId: r.RegistryID}, pulumi.Parent(r))
	return token.UserName(), pulumi.ToSecret(token.Password()).(pulumi.StringOutput)
}

// lifecycle policy document, as ECR defines it.
type lifecyclePolicy struct {
	Rules []lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority int                `json:"rulePriority"`
	Description  string             `json:"description"`
	Selection    lifecycleSelection `json:"selection"`
	Action       lifecycleAction    `json:"action"`
}

type lifecycleSelection struct {
	TagStatus     string   `json:"tagStatus"`
	TagPrefixList []string `json:"tagPrefixList,omitempty"`
	CountType     string   `json:"countType"`
	CountUnit     string   `json:"countUnit,omitempty"`
	CountNumber   int      `json:"countNumber"`
}

type lifecycleAction struct {
	Type string `json:"type"`
}

// LifecyclePolicy returns the repository's lifecycle policy JSON: untagged
// images expire after a day, and only the newest keep sha- images stay. Rules
// are in ascending priority, as ECR returns them, so the policy does not churn.
func LifecyclePolicy(keep int) (string, error) {
	if keep < 1 || keep > 1000 {
		return "", fmt.Errorf("images to keep: %d is outside 1..1000", keep)
	}
	doc := lifecyclePolicy{Rules: []lifecycleRule{
		{
			RulePriority: 1,
			Description:  "expire untagged images after 1 day",
			Selection:    lifecycleSelection{TagStatus: "untagged", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: 1},
			Action:       lifecycleAction{Type: "expire"},
		},
		{
			RulePriority: 2,
			Description:  fmt.Sprintf("keep the newest %d sha- images", keep),
			Selection:    lifecycleSelection{TagStatus: "tagged", TagPrefixList: []string{"sha-"}, CountType: "imageCountMoreThan", CountNumber: keep},
			Action:       lifecycleAction{Type: "expire"},
		},
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
