// Package argocd installs Argo CD on the hub cluster.
package argocd

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:argocd:ArgoCD"

// Args configure Argo CD on the hub.
type Args struct {
	Namespace string
}

// ArgoCD is Argo CD on the hub: for now its namespace, where every
// environment's cluster Secret is written.
type ArgoCD struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput `pulumi:"namespace"`
}

// New creates Argo CD's namespace.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ArgoCD, error) {
	a := &ArgoCD{}
	if err := ctx.RegisterComponentResource(TypeToken, name, a, opts...); err != nil {
		return nil, err
	}
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(args.Namespace),
			Labels: pulumi.StringMap{
				"app.kubernetes.io/managed-by": pulumi.String("pulumi"),
				"app.kubernetes.io/part-of":    pulumi.String("argocd"),
			},
		},
	}, pulumi.Parent(a))
	if err != nil {
		return nil, fmt.Errorf("argocd namespace: %w", err)
	}
	a.Namespace = ns.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{"namespace": a.Namespace}); err != nil {
		return nil, err
	}
	return a, nil
}
