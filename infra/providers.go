package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AWSProviderVersion is the pulumi-aws plugin the program's ECR and IAM
// resources are generated for; it must equal the SDK version in go.mod (a test
// checks), because the provider is registered here without the SDK's root
// package, which is too large to compile for one resource.
const AWSProviderVersion = "6.83.4"

// awsProvider is the explicit AWS provider: region from typed config, never
// from the ambient aws:region.
type awsProvider struct {
	pulumi.ProviderResourceState
}

func newAWSProvider(ctx *pulumi.Context, name string, region pulumi.StringInput) (*awsProvider, error) {
	var p awsProvider
	err := ctx.RegisterResource("pulumi:providers:aws", name, pulumi.Map{
		"region": region,
	}, &p, pulumi.Version(AWSProviderVersion))
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	return &p, nil
}

// newKubeProvider targets one kube context. Pulumi alone uses the
// kubeconfig's credential; Argo CD gets its own.
func newKubeProvider(ctx *pulumi.Context, name string, kubeContext pulumi.StringInput, kubeconfig string) (*kubernetes.Provider, error) {
	args := &kubernetes.ProviderArgs{Context: kubeContext}
	if kubeconfig != "" {
		args.Kubeconfig = pulumi.String(kubeconfig)
	}
	p, err := kubernetes.NewProvider(ctx, name, args)
	if err != nil {
		return nil, fmt.Errorf("kubernetes provider %s: %w", name, err)
	}
	return p, nil
}

// newGitHubProvider acts for owner; the token comes from GITHUB_TOKEN (it needs
// the repo and workflow scopes) and is kept secret by the provider SDK.
func newGitHubProvider(ctx *pulumi.Context, owner pulumi.StringInput) (*github.Provider, error) {
	p, err := github.NewProvider(ctx, "github", &github.ProviderArgs{Owner: owner})
	if err != nil {
		return nil, fmt.Errorf("github provider: %w", err)
	}
	return p, nil
}
