package clusters

import (
	"encoding/base64"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// managerName names Argo CD's identity in each cluster, as `argocd cluster add` does.
const managerName = "argocd-manager"

// managerNamespace holds the identity, outside the app's namespace so that
// deleting the app cannot delete Argo CD's access.
const managerNamespace = "kube-system"

// Rule is one RBAC rule, kept as plain data so it can be read and tested.
type Rule struct {
	APIGroups     []string
	Resources     []string
	ResourceNames []string // empty: every object of those resources
	Verbs         []string
}

// namespaceRules is what Argo CD may do in the app's namespace: manage the
// kinds an app is made of, and nothing that grants rights (no Role or
// RoleBinding) or changes the namespace's limits. It is all Argo CD may do
// in the cluster: registered with `clusterResources: false` and
// `resource.respectRBAC`, its controller watches nothing else, and the
// AppProject allows no cluster-scoped kind and denies RBAC kinds too.
func namespaceRules() []Rule {
	all := []string{"*"}
	return []Rule{
		{APIGroups: []string{""}, Resources: []string{"configmaps", "endpoints", "events", "persistentvolumeclaims", "pods",
			"pods/log", "secrets", "serviceaccounts", "services"}, Verbs: all},
		{APIGroups: []string{"apps", "batch", "autoscaling"}, Resources: all, Verbs: all},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: all},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "networkpolicies"}, Verbs: all},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"monitoring.coreos.com"}, Resources: []string{"servicemonitors", "podmonitors", "prometheusrules"}, Verbs: all},
	}
}

func policyRules(rules []Rule) rbacv1.PolicyRuleArray {
	out := rbacv1.PolicyRuleArray{}
	for _, r := range rules {
		rule := rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.ToStringArray(r.APIGroups),
			Resources: pulumi.ToStringArray(r.Resources),
			Verbs:     pulumi.ToStringArray(r.Verbs),
		}
		if len(r.ResourceNames) > 0 {
			rule.ResourceNames = pulumi.ToStringArray(r.ResourceNames)
		}
		out = append(out, rule)
	}
	return out
}

// manager is Argo CD's least-privilege identity in one cluster.
type manager struct {
	token   pulumi.StringOutput // secret
	binding pulumi.Resource     // its rights in the app's namespace
}

// newManager creates the ServiceAccount, its long-lived token Secret and
// its binding in the app's namespace of the environment's cluster.
func newManager(ctx *pulumi.Context, parent pulumi.Resource, name string, appNamespace pulumi.StringInput,
	opts ...pulumi.ResourceOption,
) (*manager, error) {
	opts = append(opts, pulumi.Parent(parent))
	labels := pulumi.StringMap{platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi)}
	sa, err := corev1.NewServiceAccount(ctx, name+"-manager", &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(managerName), Namespace: pulumi.String(managerNamespace), Labels: labels},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s service account: %w", managerName, err)
	}
	subjects := rbacv1.SubjectArray{rbacv1.SubjectArgs{
		Kind: pulumi.String("ServiceAccount"), Name: sa.Metadata.Name().Elem(), Namespace: sa.Metadata.Namespace().Elem(),
	}}
	role, err := rbacv1.NewRole(ctx, name+"-manager-app", &rbacv1.RoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(managerName), Namespace: appNamespace, Labels: labels},
		Rules:    policyRules(namespaceRules()),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s role: %w", managerName, err)
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-manager-app", &rbacv1.RoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(managerName), Namespace: role.Metadata.Namespace().Elem(), Labels: labels},
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem()},
		Subjects: subjects,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s role binding: %w", managerName, err)
	}
	// A long-lived token: Kubernetes fills it in, and the provider waits for it.
	tokenSecret, err := corev1.NewSecret(ctx, name+"-manager-token", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(managerName + "-token"),
			Namespace:   sa.Metadata.Namespace().Elem(),
			Labels:      labels,
			Annotations: pulumi.StringMap{"kubernetes.io/service-account.name": sa.Metadata.Name().Elem()},
		},
		Type: pulumi.String("kubernetes.io/service-account-token"),
	}, append(opts, pulumi.AdditionalSecretOutputs([]string{"data"}))...)
	if err != nil {
		return nil, fmt.Errorf("%s token: %w", managerName, err)
	}
	token := tokenSecret.Data.ApplyT(func(data map[string]string) (string, error) {
		return decodeKey(data, "token")
	}).(pulumi.StringOutput)
	return &manager{token: pulumi.ToSecret(token).(pulumi.StringOutput), binding: binding}, nil
}

// decodeKey returns a Secret's data key, decoded.
func decodeKey(data map[string]string, key string) (string, error) {
	v, ok := data[key]
	if !ok || v == "" {
		return "", fmt.Errorf("%s-token has no %s yet: run `pulumi up` again once Kubernetes has filled it in", managerName, key)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "", fmt.Errorf("%s-token: %s is not base64: %w", managerName, key, err)
	}
	return string(b), nil
}
