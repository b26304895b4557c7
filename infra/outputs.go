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
)
