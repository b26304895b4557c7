package infra

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	awsRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-(central|north|south|east|west|northeast|northwest|southeast|southwest)-[1-9]$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	stackPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// Slack channel names are lower case letters of any script, digits, - and _;
	// channel IDs (C0123456789) are accepted too.
	slackChannelName = regexp.MustCompile(`^#?[\p{Ll}\p{Lo}\p{Nd}_-]{1,80}$`)
	slackChannelID   = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	oidcProviderARN  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$`)
	// ECR repository names: lower case components separated by / . _ -.
	ecrRepoName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	// A Prometheus duration (1d12h) and a Kubernetes quantity (10Gi).
	promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	quantity     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
	imageTag     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// validate checks the typed config; parse problems were recorded already.
func (p *parser) validate(c *Config) {
	p.validateNames(c)
	if p.failed(KeyHub) {
		return // every other check depends on the stack's role
	}
	p.validateRole(c)
	p.validateCluster(c)
	p.validateAccess(c)
	p.validateSlack(c)
	p.validateCharts(c)
	p.validateRegistry(c)
	if c.Hub {
		p.validateGitHub(c)
		p.validateProductionData(c)
		p.validatePeople(c)
	}
}

// validateProductionData refuses a production hub whose destroy could take
// the images with it.
func (p *parser) validateProductionData(c *Config) {
	// ghcr: Pulumi never deletes the package (it does not own it).
	if !c.ProductionData || c.Registry != RegistryECR {
		return
	}
	if c.RegistryForceDelete {
		p.add(KeyRegistryForceDelete, "true", "must be false when productionData is true: a destroy would delete the images production runs")
	}
	if !c.RegistryProtect {
		p.add(KeyRegistryProtect, "false", "must be true when productionData is true: Pulumi then refuses to delete the ECR repository")
	}
}

func (p *parser) validateRole(c *Config) {
	if c.Environment != "" && !slices.Contains(Environments, c.Environment) {
		p.add(KeyEnvironment, c.Environment, "expected one of "+strings.Join(Environments, ", "))
	}
	if c.Hub && c.HubStack != "" {
		p.add(KeyHubStack, c.HubStack, "must be empty on the hub stack (hub: true); only other stacks name the hub")
	}
	if !c.Hub {
		if c.HubStack == "" {
			p.add(KeyHubStack, "", "required when hub is false: the hub's stack, as `stack` or `org/project/stack`; "+
				"if this is the hub, set gitops-platform:hub: true in "+p.raw.stackFile())
		} else if !validStackRef(c.HubStack) {
			p.add(KeyHubStack, c.HubStack, "expected `stack` or `org/project/stack` (letters, digits, ., _, -)")
		}
		// The hub owns these; a value on another stack would be ignored.
		for _, k := range keys {
			if !k.hubOnly {
				continue
			}
			if v, ok := p.raw.Values[FullKey(k.name)]; ok && v != k.def {
				p.add(k.name, v, "only the hub stack sets this; remove it here (the hub's value is used)")
			}
		}
	}
	switch c.SyncMode {
	case SyncAuto, SyncManual, "":
	default:
		p.add(KeySyncMode, string(c.SyncMode), "expected auto or manual")
	}
}

func validStackRef(s string) bool {
	parts := strings.Split(s, "/")
	if len(parts) != 1 && len(parts) != 3 {
		return false
	}
	for _, part := range parts {
		if !stackPart.MatchString(part) {
			return false
		}
	}
	return true
}

func (p *parser) validateCluster(c *Config) {
	if c.KubeContext != "" && (len(c.KubeContext) > 253 || strings.IndexFunc(c.KubeContext, unicode.IsSpace) >= 0 ||
		strings.IndexFunc(c.KubeContext, unicode.IsControl) >= 0) {
		p.add(KeyKubeContext, c.KubeContext, "expected a kube context name without spaces (see `kubectl config get-contexts`)")
	}
	if strings.IndexFunc(c.Kubeconfig, unicode.IsControl) >= 0 {
		p.add(KeyKubeconfig, c.Kubeconfig, "expected a file path")
	}
	if c.Hub {
		if c.ClusterServer != inClusterServer {
			p.add(KeyClusterServer, c.ClusterServer, "the hub registers its own cluster as "+inClusterServer+"; leave it unset")
		}
		return
	}
	if c.ClusterServer == inClusterServer {
		p.add(KeyClusterServer, "", "required when hub is false: this cluster's API server as the hub reaches it, e.g. https://192.168.49.3:8443")
		return
	}
	if msg := checkServerURL(c.ClusterServer); msg != "" {
		p.add(KeyClusterServer, c.ClusterServer, msg)
	}
}

func (p *parser) validateAccess(c *Config) {
	if c.Hub && c.GitHubOIDCProviderARN != "" && !oidcProviderARN.MatchString(c.GitHubOIDCProviderARN) {
		p.add(KeyOIDCProviderARN, c.GitHubOIDCProviderARN, "expected the ARN of the account's GitHub OIDC provider, arn:aws:iam::<12-digit account>:oidc-provider/token.actions.githubusercontent.com")
	}
	if c.Hub {
		switch {
		case !c.BootstrapImage && c.BootstrapImageTag == "":
			p.add(KeyBootstrapImageTag, "", "required when bootstrapImage is false: the tag of an image already in the repository, which the environments start from")
		case c.BootstrapImage && c.BootstrapImageTag != "":
			p.add(KeyBootstrapImageTag, c.BootstrapImageTag, "only used when bootstrapImage is false (the program tags the image it builds)")
		case c.BootstrapImageTag != "" && !imageTag.MatchString(c.BootstrapImageTag):
			p.add(KeyBootstrapImageTag, c.BootstrapImageTag, "expected an image tag: letters, digits, _ . -, at most 128 characters")
		}
	}
	if c.Hub && c.ArgoCDURL != "" {
		u, err := url.Parse(c.ArgoCDURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			p.add(KeyArgoCDURL, c.ArgoCDURL, "expected Argo CD's URL, e.g. https://argocd.example.com")
		case u.Scheme == "http" && !c.LocalLab:
			p.add(KeyArgoCDURL, c.ArgoCDURL, "expected https; plain http only with localLab: true")
		}
	}
}

// checkServerURL checks an API server address that Argo CD on the hub dials.
func checkServerURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "expected an https URL with a host, e.g. https://192.168.49.3:8443"
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "expected only scheme, host and port, e.g. https://192.168.49.3:8443"
	}
	host := u.Hostname()
	if host == "" {
		return "expected an https URL with a host, e.g. https://192.168.49.3:8443"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "expected a port from 1 to 65535"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "expected a port from 1 to 65535"
	}
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
		return "a loopback address is this machine, not a cluster the hub can reach; use the address on the hub's network (README: minikube networking)"
	}
	return ""
}

func (p *parser) validateNames(c *Config) {
	for _, ns := range []struct{ key, value string }{
		{KeyAppName, c.AppName},
		{KeyAppNamespace, c.AppNamespace},
		{KeyArgoCDNamespace, c.ArgoCDNamespace},
		{KeyMonitoringNS, c.MonitoringNamespace},
	} {
		if len(ns.value) > 63 || !dnsLabel.MatchString(ns.value) {
			p.add(ns.key, ns.value, "expected a DNS-1123 label: lower case letters, digits and -, at most 63 characters, starting and ending with a letter or digit")
		}
	}
	if c.Registry == RegistryECR && !awsRegion.MatchString(c.AWSRegion) {
		p.add(KeyAWSRegion, c.AWSRegion, "expected an AWS region name such as ap-northeast-2")
	}
	if !promDuration.MatchString(c.PrometheusRetention) {
		p.add(KeyPromRetention, c.PrometheusRetention, "expected a Prometheus duration such as 2d or 12h")
	}
	if c.PrometheusStorageSize != "" && !quantity.MatchString(c.PrometheusStorageSize) {
		p.add(KeyPromStorage, c.PrometheusStorageSize, "expected a Kubernetes quantity such as 10Gi (or empty: no volume)")
	}
	charts := []struct{ key, value string }{{KeyPrometheusChart, c.KubePrometheusStackChartVersion}}
	if c.Hub {
		charts = append(charts, struct{ key, value string }{KeyArgoCDChart, c.ArgoCDChartVersion})
	}
	for _, ch := range charts {
		if !platform.ExactSemver.MatchString(ch.value) {
			p.add(ch.key, ch.value, "expected an exact chart version such as 1.2.3 (no range, no \"latest\", no leading v)")
		}
	}
}

func (p *parser) validateGitHub(c *Config) {
	if c.GitHubOwner == "" {
		p.add(KeyGitHubOwner, "", "required on the hub: the GitHub user or organization that owns the repos")
	} else if !validGitHubOwner(c.GitHubOwner) {
		p.add(KeyGitHubOwner, c.GitHubOwner, "expected a GitHub user or organization name: letters, digits and single hyphens, at most 39 characters, not starting or ending with -")
	}
	for _, r := range []struct{ key, value string }{{KeySourceRepo, c.SourceRepo}, {KeyGitopsRepo, c.GitopsRepo}} {
		if msg := checkRepoName(r.value); msg != "" {
			p.add(r.key, r.value, msg)
		}
	}
	switch c.ReposOnDestroy {
	case ReposArchive, ReposDelete:
	default:
		p.add(KeyReposOnDestroy, string(c.ReposOnDestroy), fmt.Sprintf("expected %s (the repos are kept, read-only) or %s (the token needs the delete_repo scope)", ReposArchive, ReposDelete))
	}
	if c.SourceRepo != "" && strings.EqualFold(c.SourceRepo, c.GitopsRepo) {
		p.add(KeyGitopsRepo, c.GitopsRepo, "must differ from sourceRepo: the app's source and its deployed state live in two repos")
	}
}

func validGitHubOwner(s string) bool {
	if len(s) > 39 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if !(r == '-' || (r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))) {
			return false
		}
	}
	return s != ""
}

func checkRepoName(s string) string {
	switch {
	case !repoName.MatchString(s):
		return "expected a GitHub repository name: letters, digits, ., _ and -, at most 100 characters"
	case s == "." || s == "..":
		return "GitHub refuses . and .. as repository names"
	case strings.HasSuffix(strings.ToLower(s), ".git"):
		return "GitHub strips a .git suffix; name the repository without it"
	}
	return ""
}

func (p *parser) validateSlack(c *Config) {
	if !slackChannelName.MatchString(c.SlackChannel) && !slackChannelID.MatchString(c.SlackChannel) {
		p.add(KeySlackChannel, c.SlackChannel, "expected a Slack channel such as #deploy-alerts (lower case, no spaces or periods, at most 80 characters) or a channel ID")
	}
	switch c.SlackMethod {
	case SlackBot:
		if c.SlackWebhookURL.IsSet() {
			p.add(KeySlackWebhookURL, c.SlackWebhookURL.Reveal(), "is set but slackMethod is bot; set slackMethod: webhook or remove it")
		}
	case SlackWebhook:
		if c.SlackToken.IsSet() {
			p.add(KeySlackToken, c.SlackToken.Reveal(), "is set but slackMethod is webhook; set slackMethod: bot or remove it")
		}
	default:
		p.add(KeySlackMethod, string(c.SlackMethod), fmt.Sprintf("expected %s (bot token) or %s (incoming webhook)", SlackBot, SlackWebhook))
	}
}
