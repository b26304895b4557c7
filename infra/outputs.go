package infra

// Stack outputs. Most of the hub's are what the other stacks read through
// their StackReference (referenceHub); renaming one breaks stacks that
// already run.
const (
	OutputKubeContext     = "kubeContext"
	OutputArgoCDNamespace = "argocdNamespace"
	OutputGitHubOwner     = "githubOwner"
	OutputSourceRepo      = "sourceRepo"
	OutputGitopsRepo      = "gitopsRepo"
	OutputRegistry        = "registry"
	OutputImageRepository = "imageRepository"
	OutputRepositoryARN   = "repositoryArn"
	OutputRegistryID      = "registryId"
	OutputAWSRegion       = "awsRegion"
	OutputCIRoleARN       = "ciRoleArn"
	OutputImageTag        = "imageTag"
	OutputEnvironment     = "environment"
	OutputClusterSecret   = "clusterSecret"
	OutputAppNamespace    = "appNamespace"
	OutputOverlayPath     = "overlayPath"
	OutputGrafanaURL      = "grafanaUrl"
	OutputPrometheusURL   = "prometheusUrl"
	OutputGrafanaPassword = "grafanaPassword"
	// The commands that open the UIs from the laptop (make argocd, make
	// grafana), and the admin's password when admin login is on.
	OutputArgoCDOpen          = "argocdOpen"
	OutputGrafanaOpen         = "grafanaOpen"
	OutputArgoCDAdminPassword = "argocdAdminPassword"
)
