package repos

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// OverlayArgs configure one environment's overlay in the gitops repo.
type OverlayArgs struct {
	// GitopsRepo is the gitops repo's name (the hub's output).
	GitopsRepo pulumi.StringInput
	// ImageRepository is the ECR repository URL (the hub's output).
	ImageRepository pulumi.StringInput
	// ImageTag is the first tag the overlay runs; the CI owns it afterwards.
	ImageTag     pulumi.StringInput
	Environment  string
	AppName      string
	AppNamespace string
	Replicas     int
	SyncMode     string
}

// Overlay is manifests/<env>/kustomization.yaml, committed by the
// environment's own stack, so adding an environment needs no edit to the hub.
type Overlay struct {
	pulumi.ResourceState

	Path pulumi.StringOutput `pulumi:"path"`
}

// NewOverlay commits the environment's overlay once.
func NewOverlay(ctx *pulumi.Context, name string, args *OverlayArgs, opts ...pulumi.ResourceOption) (*Overlay, error) {
	if args == nil {
		return nil, fmt.Errorf("overlay %s: args are required", name)
	}
	data := overlayData{
		Environment: args.Environment, AppName: args.AppName, AppNamespace: args.AppNamespace,
		Replicas: args.Replicas, SyncMode: args.SyncMode,
	}
	// Render once up front so a template error stops the program before any
	// resource is registered, instead of surfacing inside an apply.
	if _, err := renderOverlay(data); err != nil {
		return nil, err
	}
	o := &Overlay{}
	if err := ctx.RegisterComponentResource(OverlayTypeToken, name, o, opts...); err != nil {
		return nil, err
	}
	content := pulumi.All(args.ImageRepository, args.ImageTag).ApplyT(func(image []any) (string, error) {
		d := data
		d.ImageRepository, d.ImageTag = image[0].(string), image[1].(string) // the order of All's arguments
		return renderOverlay(d)
	}).(pulumi.StringOutput)
	path := overlayPath(args.Environment)
	if _, err := seedFile(ctx, name+"-kustomization", args.GitopsRepo, path, content, pulumi.Parent(o)); err != nil {
		return nil, fmt.Errorf("overlay %s: %w", args.Environment, err)
	}
	o.Path = pulumi.String(path).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(o, pulumi.Map{"path": o.Path}); err != nil {
		return nil, err
	}
	return o, nil
}
