package infra

import (
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
)

// Namespace is the project's config namespace: every key this program reads is
// "gitops-platform:<key>" in a stack file.
const Namespace = "gitops-platform"

// keyKind says how a raw config string is parsed.
type keyKind int

const (
	kindString keyKind = iota
	kindInt
	kindBool
	kindSecret
)

func (k keyKind) String() string {
	switch k {
	case kindInt:
		return "integer"
	case kindBool:
		return "boolean"
	default:
		return "string"
	}
}

// keySpec declares one config key. Pulumi.yaml declares the same keys with the
// same defaults; a test keeps the two in step.
type keySpec struct {
	name string
	kind keyKind
	// def is the default as Pulumi.yaml writes it; required keys have none.
	def      string
	required bool
	// hubOnly keys belong to what the hub owns; a non-hub stack that sets one
	// is told so instead of having the value silently ignored.
	hubOnly bool
}

// Config key names. Problems are reported in the order of the keys table
// below (keyOrder), not in the order of these constants.
const (
	KeyEnvironment         = "environment"
	KeyHub                 = "hub"
	KeyHubStack            = "hubStack"
	KeyKubeContext         = "kubeContext"
	KeyKubeconfig          = "kubeconfig"
	KeyClusterServer       = "clusterServer"
	KeyClusterInsecure     = "clusterInsecure"
	KeyLocalLab            = "localLab"
	KeyArgoCDAdmin         = "argocdAdminEnabled"
	KeyArgoCDHA            = "argocdHA"
	KeyArgoCDURL           = "argocdUrl"
	KeyReplicas            = "replicas"
	KeySyncMode            = "syncMode"
	KeyAWSRegion           = "awsRegion"
	KeyAppName             = "appName"
	KeyAppNamespace        = "appNamespace"
	KeyArgoCDNamespace     = "argocdNamespace"
	KeyMonitoringNS        = "monitoringNamespace"
	KeyArgoCDChart         = "argocdChartVersion"
	KeyPrometheusChart     = "kubePrometheusStackChartVersion"
	KeyRegistryKeep        = "registryKeepImages"
	KeyRegistryForceDelete = "registryForceDelete"
	KeyRegistryProtect     = "registryProtect"
	KeyProductionData      = "productionData"
	KeyPublicRepos         = "publicRepos"
	KeyReposOnDestroy      = "reposOnDestroy"
	KeyOIDCProviderARN     = "githubOidcProviderArn"
	KeyBootstrapImage      = "bootstrapImage"
	KeyBootstrapImageTag   = "bootstrapImageTag"
	KeyPromRetention       = "prometheusRetention"
	KeyPromStorage         = "prometheusStorageSize"
	KeyGitHubOwner         = "githubOwner"
	KeySourceRepo          = "sourceRepo"
	KeyGitopsRepo          = "gitopsRepo"
	KeySlackChannel        = "slackChannel"
	KeySlackMethod         = "slackMethod"
	KeySlackToken          = "slackToken"
	KeySlackWebhookURL     = "slackWebhookUrl"
	inClusterServer        = "https://kubernetes.default.svc"
	defaultArgoCDChart     = "9.4.16"
	defaultPromChart       = "77.6.0"
	defaultSlackChannel    = "#배포-알림"
	defaultAppName         = "gitops-monitor"
	defaultAWSRegion       = "ap-northeast-2"
	defaultSourceRepo      = "tech-seminar-source"
	defaultGitopsRepo      = "tech-seminar-gitops"
	defaultArgoCDNS        = "argocd"
	defaultMonitoringNS    = "monitoring"
	defaultSlackMethod     = string(SlackBot)
	defaultReplicas        = "1"
	defaultHub             = "false"
)

// keys is the whole config surface of the program. Defaults live here and
// nowhere else in Go; the seminar's values are the defaults so that a stack
// file only states what differs per environment.
var keys = []keySpec{
	{name: KeyEnvironment, required: true},
	{name: KeyHub, kind: kindBool, def: defaultHub},
	{name: KeyHubStack},
	{name: KeyKubeContext, required: true},
	{name: KeyKubeconfig},
	// The hub registers its own cluster through the in-cluster address; every
	// other stack must say how the hub reaches it.
	{name: KeyClusterServer, def: inClusterServer},
	// TLS checks on the cluster's API server stay on unless a stack asks.
	{name: KeyClusterInsecure, kind: kindBool, def: "false"},
	// A lab trades TLS on Argo CD's own server for an easy port-forward.
	{name: KeyLocalLab, kind: kindBool, def: "false"},
	{name: KeyArgoCDAdmin, kind: kindBool, def: "false", hubOnly: true},
	{name: KeyArgoCDHA, kind: kindBool, def: "false", hubOnly: true},
	{name: KeyArgoCDURL, hubOnly: true},
	{name: KeyReplicas, kind: kindInt, def: defaultReplicas},
	// No default: whether an environment deploys without a person is a
	// decision each stack file states, so prod can never inherit "auto".
	{name: KeySyncMode, required: true},
	// The registry's region; other stacks take it from the hub.
	{name: KeyAWSRegion, def: defaultAWSRegion, hubOnly: true},
	{name: KeyAppName, def: defaultAppName},
	{name: KeyAppNamespace, def: defaultAppName},
	{name: KeyArgoCDNamespace, def: defaultArgoCDNS},
	{name: KeyMonitoringNS, def: defaultMonitoringNS},
	{name: KeyArgoCDChart, def: defaultArgoCDChart, hubOnly: true},
	{name: KeyPrometheusChart, def: defaultPromChart},
	// Small defaults that fit a 4 GB minikube node; empty storage keeps the
	// data in the pod (lost on restart), a size asks for a volume.
	{name: KeyPromRetention, def: "2d"},
	{name: KeyPromStorage},
	// The seminar's hub is a lab: a destroy may take the images with it.
	// A production hub turns forceDelete off and protect on (README).
	{name: KeyRegistryKeep, kind: kindInt, def: "30", hubOnly: true},
	{name: KeyRegistryForceDelete, kind: kindBool, def: "true", hubOnly: true},
	{name: KeyRegistryProtect, kind: kindBool, def: "false", hubOnly: true},
	// A hub whose registry holds what production runs: the images must
	// survive any destroy (checked here and by the policy pack).
	{name: KeyProductionData, kind: kindBool, def: "false", hubOnly: true},
	// An account holds one OIDC provider per URL: reuse it when it exists.
	{name: KeyOIDCProviderARN, hubOnly: true},
	// The first image needs a Docker daemon; without one, name an image.
	{name: KeyBootstrapImage, kind: kindBool, def: "true", hubOnly: true},
	{name: KeyBootstrapImageTag, hubOnly: true},
	// The first image is built for the clusters' nodes; make lab writes
	// what minikube runs (arm64 on Apple silicon).
	{name: KeyBootstrapPlatform, def: "linux/amd64", hubOnly: true},
	// ECR as in the seminar; ghcr needs no AWS account.
	{name: KeyRegistry, def: string(RegistryECR), hubOnly: true},
	// Every stack's own login to ghcr.io; none for a public package.
	{name: KeyGHCRPullUsername},
	{name: KeyGHCRPullToken, kind: kindSecret},
	{name: KeyGitHubOwner, hubOnly: true},
	{name: KeySourceRepo, def: defaultSourceRepo, hubOnly: true},
	{name: KeyGitopsRepo, def: defaultGitopsRepo, hubOnly: true},
	// Private unless a stack says otherwise (rulesets on private repos need a paid plan).
	{name: KeyPublicRepos, kind: kindBool, def: "false", hubOnly: true},
	// A destroy archives the repos: nothing is lost, and the token needs no
	// delete_repo scope; "delete" deletes them.
	{name: KeyReposOnDestroy, def: string(ReposArchive), hubOnly: true},
	// Every stack's own: the hub's go to Argo CD's notifications and its
	// cluster's alerts, another stack's to its cluster's alerts.
	{name: KeySlackChannel, def: defaultSlackChannel},
	{name: KeySlackMethod, def: defaultSlackMethod},
	{name: KeySlackToken, kind: kindSecret},
	{name: KeySlackWebhookURL, kind: kindSecret},
	// People's access to Argo CD: no SSO by default (admin login or none).
	{name: KeyArgoCDSSO, def: string(SSONone), hubOnly: true},
	{name: KeyArgoCDSSOClientID, hubOnly: true},
	{name: KeyArgoCDSSOClientSecret, kind: kindSecret, hubOnly: true},
	{name: KeyArgoCDSSOGitHubTeams, hubOnly: true},
	{name: KeyArgoCDOIDCIssuer, hubOnly: true},
	{name: KeyArgoCDOIDCGroupsClaim, def: "groups", hubOnly: true},
	{name: KeyArgoCDAdmins, hubOnly: true},
	{name: KeyArgoCDDeployers, hubOnly: true},
	{name: KeyArgoCDProdDeployers, hubOnly: true},
	// Charts from the public repositories unless a stack names a mirror.
	{name: KeyArgoCDChartRepo, def: argocd.ChartRepo, hubOnly: true},
	{name: KeyArgoCDChartUser, hubOnly: true},
	{name: KeyArgoCDChartPassword, kind: kindSecret, hubOnly: true},
	{name: KeyPromChartRepo, def: monitoring.ChartRepo},
	{name: KeyPromChartUser},
	{name: KeyPromChartPassword, kind: kindSecret},
}

// removedKeys were keys of an earlier version, with why they are gone: a
// stack that still sets one is told that, not "unknown key".
var removedKeys = map[string]string{
	"eksClusterName": "EKS registration is not supported: Argo CD on the hub would need an AWS identity " +
		"(an IAM role its pods can assume) and an EKS access entry with a namespace-scoped access policy, " +
		"which this program does not create; remove the key and register the cluster like any other, " +
		"with clusterServer (README: EKS)",
	"eksRoleArn": "EKS registration is not supported (see eksClusterName); remove the key",
}

func lookupKey(name string) (keySpec, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return keySpec{}, false
}

// KeyInfo describes one config key, for tools and for the test that keeps
// Pulumi.yaml in step with the program.
type KeyInfo struct {
	Name     string
	Type     string // string, integer or boolean, as Pulumi.yaml declares it
	Default  string
	Required bool
	Secret   bool
	HubOnly  bool
}

// Keys lists every config key the program reads.
func Keys() []KeyInfo {
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{Name: k.name, Type: k.kind.String(), Default: k.def, Required: k.required,
			Secret: k.kind == kindSecret, HubOnly: k.hubOnly})
	}
	return out
}
