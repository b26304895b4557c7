// Package clusters brings one environment's cluster into the platform: its
// app namespace, Argo CD's least-privilege identity in it, and its
// registration with Argo CD on the hub.
package clusters

import (
	"fmt"
	"strconv"

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
	Replicas     int
	AppNamespace string
	// Server is the API server as Argo CD on the hub reaches it.
	Server string
	// CAData is the cluster's CA bundle (base64), from the kubeconfig.
	CAData string
	// Insecure turns off Argo CD's TLS checks of this cluster.
	Insecure bool
	// EKS, when set, makes Argo CD authenticate with AWS IAM; no token is made.
	EKS *AWSAuthConfig
	// ArgoCDNamespace is the hub's Argo CD namespace (an output of the hub, so
	// the Secret waits for it).
	ArgoCDNamespace pulumi.StringInput
	// EnvProvider targets this environment's cluster; HubProvider the hub's.
	EnvProvider pulumi.ProviderResource
	HubProvider pulumi.ProviderResource
	// After holds back the registration: Argo CD sees the cluster only once
	// these exist (the monitoring CRDs the app's manifests use).
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

	tls := TLSClientConfig{Insecure: args.Insecure, CAData: args.CAData}
	var config pulumi.StringOutput
	if args.EKS != nil {
		eks, err := ConfigJSON(ClusterConfig{AWSAuthConfig: args.EKS, TLSClientConfig: tls})
		if err != nil {
			return nil, err
		}
		config = pulumi.String(eks).ToStringOutput()
	} else {
		m, err := newManager(ctx, c, name, args.AppNamespace, appNamespace, env)
		if err != nil {
			return nil, err
		}
		config = m.token.ApplyT(func(token string) (string, error) {
			return ConfigJSON(ClusterConfig{BearerToken: token, TLSClientConfig: tls})
		}).(pulumi.StringOutput)
	}

	secret, err := corev1.NewSecret(ctx, name+"-registration", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(SecretName(args.Environment)),
			Namespace:   args.ArgoCDNamespace,
			Labels:      pulumi.ToStringMap(Labels(args.Environment, args.SyncMode)),
			Annotations: pulumi.ToStringMap(Annotations(args.Replicas, args.AppNamespace)),
		},
		Type: pulumi.String("Opaque"),
		// The whole Secret is a Pulumi secret: it is Argo CD's key to the cluster.
		StringData: pulumi.ToSecret(pulumi.StringMap{
			"name":   pulumi.String(args.Environment),
			"server": pulumi.String(args.Server),
			"config": config,
			// Argo CD manages only the app's namespace here, plus the
			// Namespace object itself (CreateNamespace=true).
			"namespaces":       appNamespace,
			"clusterResources": pulumi.String(strconv.FormatBool(true)),
		}).(pulumi.StringMapOutput),
	}, pulumi.Parent(c), pulumi.Provider(args.HubProvider), pulumi.DependsOn(args.After))
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
