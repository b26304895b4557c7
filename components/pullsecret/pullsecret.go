// Package pullsecret gives a cluster a self-refreshing
// credential to pull the app's image from ECR: an IAM user that can only
// read the one repository, and a CronJob that turns its key into a
// kubernetes.io/dockerconfigjson Secret before each 12-hour ECR token expires.
package pullsecret

import (
	_ "embed"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"strings"

	"github.com/gitops-platform/gitops-platform/components/internal/podsecurity"
	"github.com/gitops-platform/gitops-platform/components/internal/policydoc"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

//go:embed refresh.sh
var refreshScript string

// TypeToken is the component's type; renaming it needs pulumi.Aliases.
const TypeToken = "gitops-platform:pullsecret:PullSecret"

// Names the gitops base and this component agree on.
const (
	// SecretName is the pull secret the app's Deployment references.
	SecretName = "ecr-pull"
	// Schedule refreshes every 6 hours: two chances before a token expires.
	Schedule       = "0 */6 * * *"
	refresherName  = "ecr-pull-refresh"
	credentialName = "ecr-pull-aws"
	// Namespace holds the IAM key, the refresher and its script, apart
	// from the app's namespace, where Argo CD writes whatever the gitops
	// repo says: no commit can mount the key or rewrite the refresher.
	Namespace = "ecr-pull"
)

// Pinned images of the refresh job.
const (
	AWSCLIImage  = "amazon/aws-cli:2.27.50"
	KubectlImage = "registry.k8s.io/kubectl:v1.33.0"
)

// pullActions are what pulling an image from ECR needs on the repository.
var pullActions = []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}

// pullPolicy allows logging in to ECR and reading one repository.
func pullPolicy(repositoryARN string) policydoc.Document {
	return policydoc.New(
		policydoc.Allow("EcrLogin", []string{"ecr:GetAuthorizationToken"}, []string{"*"}),
		policydoc.Allow("PullTheAppRepository", pullActions, []string{repositoryARN}),
	)
}

// registryHost is the registry part of a repository URL.
func registryHost(repositoryURL string) string {
	host, _, _ := strings.Cut(repositoryURL, "/")
	return host
}

// Args configure one cluster's pull credential.
type Args struct {
	Environment string
	AppName     string
	// Region is the registry's region.
	Region pulumi.StringInput
	// AppNamespace is where the pull secret goes (an output, so the
	// namespace exists first).
	AppNamespace  pulumi.StringInput
	RepositoryARN pulumi.StringInput
	RepositoryURL pulumi.StringInput
	// AWSProvider and KubeProvider target the account and this cluster.
	AWSProvider  pulumi.ProviderResource
	KubeProvider pulumi.ProviderResource
}

// PullSecret is the credential and the job that keeps it fresh.
type PullSecret struct {
	pulumi.ResourceState

	SecretName pulumi.StringOutput `pulumi:"secretName"`
	// AccessKeyID names the IAM key (not secret); its secret half is.
	AccessKeyID pulumi.StringOutput `pulumi:"accessKeyId"`
	// FirstRefresh is the first run of the refresher: once it has
	// succeeded, the pull secret exists and the app's pods can pull.
	FirstRefresh pulumi.Resource
}

// New creates the IAM user and its key, the refresher's namespace with the
// key, the CronJob and a first run, and the pull secret in the app's
// namespace, which the refresher may update and nothing more.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*PullSecret, error) {
	if args == nil {
		return nil, fmt.Errorf("pullsecret %s: args are required", name)
	}
	if args.AWSProvider == nil || args.KubeProvider == nil {
		return nil, fmt.Errorf("pull secret %s: an AWS and a Kubernetes provider are required", name)
	}
	p := &PullSecret{}
	if err := ctx.RegisterComponentResource(TypeToken, name, p, opts...); err != nil {
		return nil, err
	}
	aws := []pulumi.ResourceOption{pulumi.Parent(p), pulumi.Provider(args.AWSProvider)}
	kube := []pulumi.ResourceOption{pulumi.Parent(p), pulumi.Provider(args.KubeProvider)}

	user, err := iam.NewUser(ctx, name+"-user", &iam.UserArgs{
		Name: pulumi.String(fmt.Sprintf("%s-%s-ecr-pull", args.AppName, args.Environment)),
		Path: pulumi.String("/gitops-platform/"),
	}, aws...)
	if err != nil {
		return nil, fmt.Errorf("pull user: %w", err)
	}
	policy := args.RepositoryARN.ToStringOutput().ApplyT(func(arn string) (string, error) {
		return pullPolicy(arn).JSON()
	}).(pulumi.StringOutput)
	keyPolicy, err := iam.NewUserPolicy(ctx, name+"-pull", &iam.UserPolicyArgs{User: user.Name, Policy: policy}, aws...)
	if err != nil {
		return nil, fmt.Errorf("pull policy: %w", err)
	}
	key, err := iam.NewAccessKey(ctx, name+"-key", &iam.AccessKeyArgs{User: user.Name}, aws...)
	if err != nil {
		return nil, fmt.Errorf("pull key: %w", err)
	}

	labels := pulumi.StringMap{platform.LabelManagedBy: pulumi.String(platform.ManagedByPulumi), "app.kubernetes.io/name": pulumi.String(refresherName)}
	nsLabels := podsecurity.Restricted()
	nsLabels[platform.LabelManagedBy] = platform.ManagedByPulumi
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Namespace), Labels: pulumi.ToStringMap(nsLabels)},
	}, kube...)
	if err != nil {
		return nil, fmt.Errorf("refresher namespace: %w", err)
	}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: ns.Metadata.Name().Elem(), Labels: labels}
	}
	// The pull secret itself lives where the Deployment references it. The
	// program creates it (empty) so the refresher needs no right to create
	// Secrets there, only to update this one; its data is the refresher's.
	pullSecret, err := corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(SecretName), Namespace: args.AppNamespace,
			Labels: pulumi.StringMap{platform.LabelManagedBy: pulumi.String(refresherName)}},
		Type:       pulumi.String("kubernetes.io/dockerconfigjson"),
		StringData: pulumi.StringMap{".dockerconfigjson": pulumi.String(`{"auths":{}}`)},
	}, append(kube, pulumi.IgnoreChanges([]string{"data", "stringData"}))...)
	if err != nil {
		return nil, fmt.Errorf("pull secret: %w", err)
	}
	credential, err := corev1.NewSecret(ctx, name+"-aws", &corev1.SecretArgs{
		Metadata: meta(credentialName),
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			"AWS_ACCESS_KEY_ID":     key.ID().ToStringOutput(),
			"AWS_SECRET_ACCESS_KEY": pulumi.ToSecret(key.Secret).(pulumi.StringOutput),
			"AWS_REGION":            args.Region,
			"ECR_REGISTRY":          args.RepositoryURL.ToStringOutput().ApplyT(registryHost).(pulumi.StringOutput),
			"PULL_SECRET_NAME":      pulumi.String(SecretName),
		},
	}, append(kube, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))...)
	if err != nil {
		return nil, fmt.Errorf("pull credential secret: %w", err)
	}
	script, err := corev1.NewConfigMap(ctx, name+"-script", &corev1.ConfigMapArgs{
		Metadata: meta(refresherName),
		Data:     pulumi.StringMap{"refresh.sh": pulumi.String(refreshScript)},
	}, kube...)
	if err != nil {
		return nil, fmt.Errorf("refresh script: %w", err)
	}
	sa, err := corev1.NewServiceAccount(ctx, name+"-refresher", &corev1.ServiceAccountArgs{Metadata: meta(refresherName)}, kube...)
	if err != nil {
		return nil, fmt.Errorf("refresher service account: %w", err)
	}
	// In the app's namespace the refresher may change the one pull secret
	// and nothing else.
	inApp := &metav1.ObjectMetaArgs{Name: pulumi.String(refresherName), Namespace: pullSecret.Metadata.Namespace().Elem(), Labels: labels}
	role, err := rbacv1.NewRole(ctx, name+"-refresher", &rbacv1.RoleArgs{
		Metadata: inApp,
		Rules: rbacv1.PolicyRuleArray{
			rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{""}), Resources: pulumi.ToStringArray([]string{"secrets"}),
				ResourceNames: pulumi.ToStringArray([]string{SecretName}), Verbs: pulumi.ToStringArray([]string{"get", "patch", "update"})},
		},
	}, kube...)
	if err != nil {
		return nil, fmt.Errorf("refresher role: %w", err)
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-refresher", &rbacv1.RoleBindingArgs{
		Metadata: inApp,
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem()},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: sa.Metadata.Name().Elem(), Namespace: sa.Metadata.Namespace().Elem()}},
	}, kube...)
	if err != nil {
		return nil, fmt.Errorf("refresher role binding: %w", err)
	}

	pod := podSpec(sa.Metadata.Name().Elem(), credential.Metadata.Name().Elem(), script.Metadata.Name().Elem(), pullSecret.Metadata.Namespace().Elem())
	if _, err := batchv1.NewCronJob(ctx, name+"-refresh", &batchv1.CronJobArgs{
		Metadata: meta(refresherName),
		Spec: batchv1.CronJobSpecArgs{
			Schedule:                   pulumi.String(Schedule),
			ConcurrencyPolicy:          pulumi.String("Forbid"),
			SuccessfulJobsHistoryLimit: pulumi.Int(1),
			FailedJobsHistoryLimit:     pulumi.Int(3),
			JobTemplate: batchv1.JobTemplateSpecArgs{Spec: batchv1.JobSpecArgs{
				BackoffLimit: pulumi.Int(3),
				Template:     corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: labels}, Spec: pod},
			}},
		},
	}, kube...); err != nil {
		return nil, fmt.Errorf("refresh cronjob: %w", err)
	}
	// A first run now, so the app can pull before the schedule comes round;
	// Pulumi waits for it, so a credential that does not work fails the update.
	// Nothing in its spec names the key's policy or the RoleBinding, so
	// without DependsOn it could start (and use up its retries) before
	// the key may pull or the refresher may write the secret.
	first, err := batchv1.NewJob(ctx, name+"-first-refresh", &batchv1.JobArgs{
		Metadata: meta(refresherName + "-first"),
		Spec: batchv1.JobSpecArgs{
			BackoffLimit: pulumi.Int(3),
			Template:     corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: labels}, Spec: pod},
		},
	}, append(kube, pulumi.DependsOn([]pulumi.Resource{keyPolicy, binding}))...)
	if err != nil {
		return nil, fmt.Errorf("first refresh job: %w", err)
	}
	p.FirstRefresh = first

	p.SecretName = pulumi.String(SecretName).ToStringOutput()
	p.AccessKeyID = key.ID().ToStringOutput()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"secretName": p.SecretName, "accessKeyId": p.AccessKeyID}); err != nil {
		return nil, err
	}
	return p, nil
}

// podSpec runs the script in the aws-cli image, then applies its output
// with kubectl; neither container runs as root or keeps the token on disk
// beyond the pod's memory-backed volume.
func podSpec(serviceAccount, credential, script, target pulumi.StringInput) corev1.PodSpecArgs {
	nonRoot := &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                pulumi.Int(65534),
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
	}
	work := corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("work"), MountPath: pulumi.String("/work")}}
	return corev1.PodSpecArgs{
		ServiceAccountName: serviceAccount,
		RestartPolicy:      pulumi.String("OnFailure"),
		// With the rest of nonRoot, what the app namespace's restricted
		// Pod Security level asks of every Pod.
		SecurityContext: &corev1.PodSecurityContextArgs{
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		Volumes: corev1.VolumeArray{
			corev1.VolumeArgs{Name: pulumi.String("work"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{Medium: pulumi.String("Memory")}},
			corev1.VolumeArgs{Name: pulumi.String("script"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: script}},
		},
		InitContainers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:    pulumi.String("login"),
			Image:   pulumi.String(AWSCLIImage),
			Command: pulumi.ToStringArray([]string{"bash", "/script/refresh.sh"}),
			EnvFrom: corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: credential}}},
			Env: corev1.EnvVarArray{
				corev1.EnvVarArgs{Name: pulumi.String("HOME"), Value: pulumi.String("/work")},
				corev1.EnvVarArgs{Name: pulumi.String("TARGET_NAMESPACE"), Value: target},
			},
			VolumeMounts:    append(work, corev1.VolumeMountArgs{Name: pulumi.String("script"), MountPath: pulumi.String("/script"), ReadOnly: pulumi.Bool(true)}),
			SecurityContext: nonRoot,
		}},
		Containers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:            pulumi.String("apply"),
			Image:           pulumi.String(KubectlImage),
			Command:         pulumi.ToStringArray([]string{"kubectl", "apply", "-f", "/work/secret.json"}),
			VolumeMounts:    work,
			SecurityContext: nonRoot,
		}},
	}
}
