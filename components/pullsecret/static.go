package pullsecret

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/gitops-platform/gitops-platform/internal/platform"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// StaticTypeToken is the type of a pull credential that does not expire.
const StaticTypeToken = "gitops-platform:pullsecret:StaticPullSecret"

// GHCRSecretName is the pull secret the app's Deployment references when
// the images live in GitHub's container registry.
const GHCRSecretName = "ghcr-pull"

// StaticArgs configure a pull credential a person supplies: a registry
// login that does not expire, such as a GitHub token with read:packages.
type StaticArgs struct {
	// Server is the registry's host, e.g. ghcr.io.
	Server string
	// Name is the Secret's name in the app's namespace.
	Name string
	// Username and Password log in to Server; without a Password the
	// Secret holds no login (a public image needs none).
	Username string
	Password pulumi.StringInput
	// AppNamespace is where the Secret goes (an output, so the namespace
	// exists first).
	AppNamespace pulumi.StringInput
	KubeProvider pulumi.ProviderResource
}

// StaticPullSecret is a kubernetes.io/dockerconfigjson Secret in the app's
// namespace, written once by the program.
type StaticPullSecret struct {
	pulumi.ResourceState

	SecretName pulumi.StringOutput `pulumi:"secretName"`
	// Ready is the Secret: once it exists the app's pods can pull.
	Ready pulumi.Resource
}

// DockerConfigJSON is the .dockerconfigjson of one registry login; with an
// empty password it holds no login at all.
func DockerConfigJSON(server, username, password string) (string, error) {
	type login struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	doc := struct {
		Auths map[string]login `json:"auths"`
	}{Auths: map[string]login{}}
	if password != "" {
		doc.Auths[server] = login{Username: username, Password: password,
			Auth: base64.StdEncoding.EncodeToString([]byte(username + ":" + password))}
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// NewStatic writes the pull secret from the login it is given.
func NewStatic(ctx *pulumi.Context, name string, args *StaticArgs, opts ...pulumi.ResourceOption) (*StaticPullSecret, error) {
	if args == nil {
		return nil, fmt.Errorf("static pull secret %s: args are required", name)
	}
	if args.KubeProvider == nil || args.Server == "" || args.Name == "" {
		return nil, fmt.Errorf("static pull secret %s: a registry, a Secret name and a Kubernetes provider are required", name)
	}
	p := &StaticPullSecret{}
	if err := ctx.RegisterComponentResource(StaticTypeToken, name, p, opts...); err != nil {
		return nil, err
	}
	password := args.Password
	if password == nil {
		password = pulumi.String("")
	}
	config := password.ToStringOutput().ApplyT(func(pw string) (string, error) {
		return DockerConfigJSON(args.Server, args.Username, pw)
	}).(pulumi.StringOutput)
	secret, err := corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Name), Namespace: args.AppNamespace,
			Labels: pulumi.StringMap{platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi)}},
		Type:       pulumi.String("kubernetes.io/dockerconfigjson"),
		StringData: pulumi.ToSecret(pulumi.StringMap{".dockerconfigjson": config}).(pulumi.StringMapOutput),
	}, pulumi.Parent(p), pulumi.Provider(args.KubeProvider), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, fmt.Errorf("pull secret: %w", err)
	}
	p.Ready = secret
	p.SecretName = pulumi.String(args.Name).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"secretName": p.SecretName}); err != nil {
		return nil, err
	}
	return p, nil
}
