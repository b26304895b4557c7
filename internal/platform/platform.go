// Package platform holds the names the platform's parts share, so that the
// components, the config check, the policy pack and teardown say them once:
// the cluster Secret labels, the environments, the Slack methods, the
// managed-by label, what an exact chart version is, and the types teardown
// and the policy pack look for. It imports nothing of this project's.
package platform

import "regexp"

// Labels of Argo CD's cluster Secrets: what the ApplicationSets' cluster
// generators select on and the policy pack checks.
const (
	LabelSecretType   = "argocd.argoproj.io/secret-type"
	SecretTypeCluster = "cluster"
	LabelEnv          = "gitops.platform/env"
	LabelSync         = "gitops.platform/sync"
)

// Sync modes, the values of LabelSync.
const (
	SyncAuto   = "auto"
	SyncManual = "manual"
)

// LabelManagedBy marks what the program creates (ManagedByPulumi) and what
// it only seeds for another writer.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedByPulumi = "pulumi"
)

// ProdEnvironment never syncs on its own: a person syncs it.
const ProdEnvironment = "prod"

// Environments are the environments the platform knows, in deploy order.
var Environments = []string{"dev", "staging", ProdEnvironment}

// Slack methods: a bot token posting to a channel, or an incoming webhook.
const (
	SlackBot     = "bot"
	SlackWebhook = "webhook"
)

// ExactSemver is an exact semantic version (SemVer 2.0.0, no leading v):
// what a chart pin must be. Ranges, "latest" and partial versions let a
// later update install another chart.
var ExactSemver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Resource types teardown and the policy pack look for.
const (
	TypeArgoCD        = "gitops-platform:argocd:ArgoCD"
	TypeECRRepository = "aws:ecr/repository:Repository"
)
