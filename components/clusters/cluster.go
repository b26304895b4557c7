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
	// After holds back the registration: Argo CD sees the cluster only once
	// these exist (the monitoring CRDs the app's manifests use, the first
	// image pull credential).
	After []pulumi.Resource
}

// ClusterRegistration is an environment's cluster as the platform knows it:
// its app namespace, Argo CD's identity there, and its Secret on the hub.
type ClusterRegistration struct {
	pulumi.ResourceState

	AppNamespace  pulumi.StringOutput `pulumi:"appNamespace"`
	ClusterSecret pulumi.StringOutput `pulumi:"clusterSecret"`
}

// New creates the app namespace, Argo CD's identity and the cluster Secret.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ClusterRegistration, error) {
	if args.EnvProvider == nil || args.HubProvider == nil {
		return nil, fmt.Errorf("cluster %s: both the environment's and the hub's kubernetes providers are required", name)
	}
	c := &ClusterRegistration{}
	if err := ctx.RegisterComponentResource(TypeToken, name, c, opts...); err != nil {
		return nil, err
	}
	env := pulumi.Provider(args.EnvProvider)
	ns, err := corev1.NewNamespace(ctx, name+"-app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:   pulumi.String(args.AppNamespace),
			Labels: pulumi.StringMap{labelManagedBy: pulumi.String(managedByPulumi), LabelEnv: pulumi.String(args.Environment)},
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
	config := m.token.ApplyT(func(token string) (string, error) {
		return ConfigJSON(ClusterConfig{BearerToken: token, TLSClientConfig: tls})
	}).(pulumi.StringOutput)
	stringData := pulumi.ToStringMap(Data(args.Environment, args.Server, args.AppNamespace))
	stringData["config"] = config

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
		// what the app needs there (After) exist.
		pulumi.DependsOn(append([]pulumi.Resource{ns, m.binding}, args.After...)))
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}

	c.AppNamespace = appNamespace
	c.ClusterSecret = secret.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"appNamespace":  c.AppNamespace,
		"clusterSecret": c.ClusterSecret,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
