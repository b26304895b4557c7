// Package clusters brings one environment's cluster into the platform: its
// app namespace, Argo CD's least-privilege identity in it, and its
// registration with Argo CD on the hub.
package clusters

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:clusters:ClusterRegistration"

// Args configure one environment's cluster.
type Args struct {
	Environment  string
	SyncMode     string
	AppNamespace string
	// Server is the API server as Argo CD on the hub reaches it.
	Server string
	// CAData is the cluster's CA bundle (base64), from the kubeconfig.
	CAData string
	// Insecure turns off Argo CD's TLS checks of this cluster.
	Insecure bool
	// ArgoCDNamespace is the hub's Argo CD namespace (an output of the hub, so
	// the Secret waits for it).
	ArgoCDNamespace pulumi.StringInput
	// EnvProvider targets this environment's cluster; HubProvider the hub's.
	EnvProvider pulumi.ProviderResource
	HubProvider pulumi.ProviderResource
}

// ClusterRegistration is an environment's cluster as the platform knows it:
// its app namespace, Argo CD's identity there, and its Secret on the hub.
type ClusterRegistration struct {
	pulumi.ResourceState

	AppNamespace  pulumi.StringOutput `pulumi:"appNamespace"`
	ClusterSecret pulumi.StringOutput `pulumi:"clusterSecret"`

	name      string
	args      Args
	config    pulumi.StringOutput // the Secret's config: token and TLS (secret)
	namespace pulumi.Resource
	binding   pulumi.Resource
}

// New creates the app namespace and Argo CD's identity in the
// environment's cluster. Register then registers the cluster with the hub,
// once what the app needs there exists: its pull credential needs the
// namespace, and the app must not sync before the credential exists.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ClusterRegistration, error) {
	if args == nil || args.EnvProvider == nil || args.HubProvider == nil {
		return nil, fmt.Errorf("cluster %s: args with both the environment's and the hub's kubernetes providers are required", name)
	}
	if args.Environment == "" || args.SyncMode == "" || args.AppNamespace == "" || args.Server == "" || args.ArgoCDNamespace == nil {
		return nil, fmt.Errorf("cluster %s: an environment, a sync mode, the app namespace, the server and Argo CD's namespace are required", name)
	}
	c := &ClusterRegistration{name: name, args: *args}
	if err := ctx.RegisterComponentResource(TypeToken, name, c, opts...); err != nil {
		return nil, err
	}
	if args.Insecure {
		ctx.Log.Warn(fmt.Sprintf("clusterInsecure: Argo CD will not verify the certificate of %s's API server %s; "+
			"anyone on the path can impersonate it", args.Environment, args.Server), &pulumi.LogArgs{Resource: c})
	}
	env := pulumi.Provider(args.EnvProvider)
	ns, err := corev1.NewNamespace(ctx, name+"-app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:   pulumi.String(args.AppNamespace),
			Labels: pulumi.ToStringMap(namespaceLabels(args.Environment)),
		},
	}, pulumi.Parent(c), env)
	if err != nil {
		return nil, fmt.Errorf("app namespace: %w", err)
	}
	appNamespace := ns.Metadata.Name().Elem()

	m, err := newManager(ctx, c, name, appNamespace, env)
	if err != nil {
		return nil, err
	}
	tls := TLSClientConfig{Insecure: args.Insecure, CAData: args.CAData}
	c.config = m.token.ApplyT(func(token string) (string, error) {
		return configJSON(clusterConfig{BearerToken: token, TLSClientConfig: tls})
	}).(pulumi.StringOutput)
	c.AppNamespace = appNamespace
	c.namespace, c.binding = ns, m.binding
	return c, nil
}

// Register writes the cluster Secret into the hub's Argo CD namespace,
// after the resources given (the monitoring CRDs the app's manifests use,
// the first pull credential), and completes the component.
func (c *ClusterRegistration) Register(ctx *pulumi.Context, after ...pulumi.Resource) error {
	args, name := c.args, c.name
	stringData := pulumi.ToStringMap(Data(args.Environment, args.Server, args.AppNamespace))
	stringData["config"] = c.config

	secret, err := corev1.NewSecret(ctx, name+"-registration", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(SecretName(args.Environment)),
			Namespace: args.ArgoCDNamespace,
			Labels:    pulumi.ToStringMap(Labels(args.Environment, args.SyncMode)),
		},
		Type: pulumi.String("Opaque"),
		// Argo CD's key to the cluster: the Kubernetes SDK makes a Secret's
		// data a Pulumi secret as a whole.
		StringData: stringData,
	}, pulumi.Parent(c), pulumi.Provider(args.HubProvider),
		// Argo CD sees the cluster only once its namespace, its identity and
		// what the app needs there exist.
		pulumi.DependsOn(append([]pulumi.Resource{c.namespace, c.binding}, after...)))
	if err != nil {
		return fmt.Errorf("cluster secret: %w", err)
	}
	c.ClusterSecret = secret.Metadata.Name().Elem()
	return ctx.RegisterResourceOutputs(c, pulumi.Map{
		"appNamespace":  c.AppNamespace,
		"clusterSecret": c.ClusterSecret,
	})
}
