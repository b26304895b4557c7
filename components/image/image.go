// Package image builds the app's first image from the files the source
// repo is seeded with and pushes it to ECR, so that every environment has
// something to run before the CI's first build.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/gitops-platform/gitops-platform/internal/repofile"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:image:BootstrapImage"

// ContextRoot is where the build context is written, relative to the
// project (git-ignored).
const ContextRoot = ".bootstrap-image"

// platformLinuxAMD64 is the image's platform: what minikube and most clusters run.
const platformLinuxAMD64 = "linux/amd64"

// Args configure the first image.
type Args struct {
	// Files are the source repo's seeded files: the build context.
	Files         []repofile.File
	RepositoryURL pulumi.StringInput
	RegistryID    pulumi.StringInput
}

// BootstrapImage is the first image in the repository.
type BootstrapImage struct {
	pulumi.ResourceState

	// Tag is derived from the files, so a changed app gets a new tag (the
	// repository's tags are immutable).
	Tag        string
	RepoDigest pulumi.StringOutput `pulumi:"repoDigest"`
}

// Tag is "sha-bootstrap-" and the first 12 hex digits of the files' hash;
// the sha- prefix puts it under the lifecycle policy's keep rule.
func Tag(files []repofile.File) string {
	sorted := append([]repofile.File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := sha256.New()
	for _, f := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00%s", f.Path, len(f.Content), f.Content)
	}
	return "sha-bootstrap-" + hex.EncodeToString(h.Sum(nil))[:12]
}

type noBuildContextKey struct{}

// WithoutBuildContext tells New not to write the build context: the
// offline render touches no files.
func WithoutBuildContext(ctx *pulumi.Context) *pulumi.Context {
	return ctx.WithValue(noBuildContextKey{}, true)
}

// New writes the build context and builds and pushes the image. Under
// WithoutBuildContext (the offline render) nothing is written.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*BootstrapImage, error) {
	if args == nil {
		return nil, fmt.Errorf("image %s: args are required", name)
	}
	if len(args.Files) == 0 {
		return nil, fmt.Errorf("image %s: no files to build", name)
	}
	tag := Tag(args.Files)
	dir := filepath.Join(ContextRoot, tag)
	if skip, _ := ctx.Value(noBuildContextKey{}).(bool); !skip {
		if err := writeContext(dir, args.Files); err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
	}
	b := &BootstrapImage{Tag: tag}
	if err := ctx.RegisterComponentResource(TypeToken, name, b, opts...); err != nil {
		return nil, err
	}
	token := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{RegistryId: args.RegistryID}, pulumi.Parent(b))
	img, err := docker.NewImage(ctx, name, &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", args.RepositoryURL, tag),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(dir),
			Dockerfile: pulumi.String(filepath.Join(dir, "Dockerfile")),
			Platform:   pulumi.String(platformLinuxAMD64),
		},
		Registry: &docker.RegistryArgs{
			Server:   args.RepositoryURL,
			Username: token.UserName(),
			Password: pulumi.ToSecret(token.Password()).(pulumi.StringOutput),
		},
	}, pulumi.Parent(b))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	b.RepoDigest = img.RepoDigest
	if err := ctx.RegisterResourceOutputs(b, pulumi.Map{"tag": pulumi.String(tag), "repoDigest": b.RepoDigest}); err != nil {
		return nil, err
	}
	return b, nil
}

func writeContext(dir string, files []repofile.File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
