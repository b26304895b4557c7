package appsets

import (
	"fmt"

	"github.com/gitops-platform/gitops-platform/components/internal/untyped"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:appsets:ApplicationSets"

// Args configure both ApplicationSets.
type Args struct {
	Namespace    string
	Project      string
	AppName      string
	AppNamespace string
	RepoURL      pulumi.StringInput
	// AutoAnnotations and ManualAnnotations subscribe the Applications to
	// notifications.
	AutoAnnotations   map[string]string
	ManualAnnotations map[string]string
	// ArgoCD is what they need running: the release (its CRDs and
	// controllers), the repository credential, the notifications secret and
	// the project. They are created after these and deleted before them,
	// so the Applications' finalizers are handled while Argo CD still runs.
	ArgoCD []pulumi.Resource
}

// ApplicationSets are gitops-monitor-auto and gitops-monitor-manual.
type ApplicationSets struct {
	pulumi.ResourceState

	Names pulumi.StringArrayOutput `pulumi:"names"`
}

// New creates both ApplicationSets.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ApplicationSets, error) {
	if args == nil {
		return nil, fmt.Errorf("appsets %s: args are required", name)
	}
	if len(args.ArgoCD) == 0 {
		return nil, fmt.Errorf("applicationsets %s: Argo CD is required", name)
	}
	options := func(manual bool) options {
		o := options{Manual: manual, Namespace: args.Namespace, Project: args.Project,
			AppName: args.AppName, AppNamespace: args.AppNamespace, Annotations: args.AutoAnnotations}
		if manual {
			o.Annotations = args.ManualAnnotations
		}
		return o
	}
	// build both once before registering anything, so bad args stop here.
	for _, manual := range []bool{false, true} {
		if _, err := build(options(manual)); err != nil {
			return nil, err
		}
	}
	a := &ApplicationSets{}
	if err := ctx.RegisterComponentResource(TypeToken, name, a, opts...); err != nil {
		return nil, err
	}
	var names pulumi.StringArray
	for _, manual := range []bool{false, true} {
		o := options(manual)
		meta, _ := build(o) // checked above; the repo URL only changes the spec
		spec := args.RepoURL.ToStringOutput().ApplyT(func(repo string) (map[string]any, error) {
			o.RepoURL = repo
			set, err := build(o)
			if err != nil {
				return nil, err
			}
			return untyped.Map(set.Spec)
		}).(pulumi.MapOutput)
		cr, err := apiextensions.NewCustomResource(ctx, meta.Metadata.Name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String(meta.APIVersion),
			Kind:       pulumi.String(meta.Kind),
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(meta.Metadata.Name),
				Namespace: pulumi.String(meta.Metadata.Namespace),
				Labels:    pulumi.ToStringMap(meta.Metadata.Labels),
			},
			OtherFields: kubernetes.UntypedArgs{"spec": spec},
		}, pulumi.Parent(a), pulumi.DependsOn(args.ArgoCD))
		if err != nil {
			return nil, fmt.Errorf("applicationset %s: %w", meta.Metadata.Name, err)
		}
		names = append(names, cr.Metadata.Name().Elem())
	}
	a.Names = names.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{"names": a.Names}); err != nil {
		return nil, err
	}
	return a, nil
}
