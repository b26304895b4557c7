// Package image builds the app's first image from the files the source
// repo is seeded with and pushes it to the registry (ECR or GitHub's
// container registry), so that every environment has something to run
// before the CI's first build.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/gitops-platform/gitops-platform/internal/repofile"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:image:BootstrapImage"

// ContextRoot is where the build context is written, relative to the
// project (git-ignored).
const ContextRoot = ".bootstrap-image"

// Platforms the first image can be built for: the clusters' nodes'. The
// CI builds both into one multi-arch image; the docker provider builds one.
const (
	PlatformAMD64 = "linux/amd64"
	PlatformARM64 = "linux/arm64"
)

// Login is how the image is pushed: the registry's host and a credential.
type Login struct {
	Server   pulumi.StringInput
	Username pulumi.StringInput
	// Password is kept secret.
	Password pulumi.StringInput
}

// Args configure the first image.
type Args struct {
	// Files are the source repo's seeded files: the build context.
	Files         []repofile.File
	RepositoryURL pulumi.StringInput
	Login         Login
	// Platform is the clusters' nodes' (PlatformAMD64 or PlatformARM64).
	Platform string
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
	if args.Platform != PlatformAMD64 && args.Platform != PlatformARM64 {
		return nil, fmt.Errorf("image %s: platform %q is neither %s nor %s", name, args.Platform, PlatformAMD64, PlatformARM64)
	}
	if args.Login.Server == nil || args.Login.Username == nil || args.Login.Password == nil {
		return nil, fmt.Errorf("image %s: a registry login is required", name)
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
	img, err := docker.NewImage(ctx, name, &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", args.RepositoryURL, tag),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(dir),
			Dockerfile: pulumi.String(filepath.Join(dir, "Dockerfile")),
			Platform:   pulumi.String(args.Platform),
		},
		Registry: &docker.RegistryArgs{
			Server:   args.Login.Server,
			Username: args.Login.Username,
			Password: pulumi.ToSecret(args.Login.Password).(pulumi.StringOutput),
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
