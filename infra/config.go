package infra

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SyncMode says whether Argo CD deploys an environment on its own or waits for a person.
type SyncMode string

const (
	SyncAuto   SyncMode = platform.SyncAuto
	SyncManual SyncMode = platform.SyncManual
)

// SlackMethod is how the stack's Slack messages leave: the hub's Argo CD
// notifications and every stack's Alertmanager alerts.
type SlackMethod string

const (
	// SlackBot posts with a bot token to slackChannel (Argo CD names it in
	// each subscription).
	SlackBot SlackMethod = platform.SlackBot
	// SlackWebhook posts to one incoming-webhook URL, whose channel Slack fixes.
	SlackWebhook SlackMethod = platform.SlackWebhook
)

// ReposOnDestroy is what `pulumi destroy` does to the hub's repos.
type ReposOnDestroy string

const (
	// ReposArchive archives them, with their content: nothing is lost.
	ReposArchive ReposOnDestroy = "archive"
	// ReposDelete deletes them; the token needs the delete_repo scope.
	ReposDelete ReposOnDestroy = "delete"
)

// Environments are the environment names the platform knows, in deploy order.
var Environments = platform.Environments

// Secret is a config value read from a secret key. Its String method hides the
// value so that a stray %v never prints it; Reveal is for handing it to
// pulumi.ToSecret.
type Secret struct{ value string }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[secret]"
}

// Reveal returns the plain value. Only wrap it in pulumi.ToSecret.
func (s Secret) Reveal() string { return s.value }

// NewSecret holds a value as a Secret.
func NewSecret(value string) Secret { return Secret{value: value} }

// IsSet reports whether the secret was given.
func (s Secret) IsSet() bool { return s.value != "" }

// Config is the whole typed configuration of one stack.
type Config struct {
	Environment string
	Hub         bool
	// HubStack names the hub's stack (org/project/stack or stack) for non-hub stacks.
	HubStack string

	KubeContext string
	// Kubeconfig is a path; empty means the provider's default ($KUBECONFIG or ~/.kube/config).
	Kubeconfig string
	// ClusterServer is this cluster's API server as the hub reaches it.
	ClusterServer string
	// ClusterInsecure turns off TLS checks of the API server (warned about).
	ClusterInsecure bool
	// LocalLab marks a lab (minikube): Argo CD's server serves plain HTTP.
	LocalLab bool

	Replicas int
	SyncMode SyncMode

	AWSRegion string
	// AppName names the app: ECR repository, Applications and workloads.
	AppName             string
	AppNamespace        string
	ArgoCDNamespace     string
	MonitoringNamespace string

	ArgoCDChartVersion              string
	KubePrometheusStackChartVersion string
	// PrometheusRetention is how long Prometheus keeps data (a Prometheus duration).
	PrometheusRetention string
	// PrometheusStorageSize, when set, is the volume Prometheus asks for.
	PrometheusStorageSize string
	ArgoCDAdminEnabled    bool
	ArgoCDHA              bool
	// ArgoCDURL is Argo CD's URL for people, used in notification links.
	ArgoCDURL string

	// RegistryKeepImages is how many sha- images ECR keeps.
	RegistryKeepImages  int
	RegistryForceDelete bool
	RegistryProtect     bool
	// ProductionData marks a hub whose registry must survive a destroy.
	ProductionData bool
	// PublicRepos makes the source and gitops repos public.
	PublicRepos bool
	// ReposOnDestroy archives or deletes the repos on destroy.
	ReposOnDestroy ReposOnDestroy
	// GitHubOIDCProviderARN names an existing GitHub Actions OIDC provider;
	// empty, the program creates one.
	GitHubOIDCProviderARN string
	// BootstrapImage builds and pushes the first image; when off,
	// BootstrapImageTag names the image the environments start from.
	BootstrapImage    bool
	BootstrapImageTag string
	// BootstrapImagePlatform is the first image's platform: the nodes'.
	BootstrapImagePlatform string
	// Registry is where the images live (ECR or ghcr.io); GHCRPull is
	// this stack's login there.
	Registry Registry
	GHCRPull GHCRPull

	GitHubOwner string
	SourceRepo  string
	GitopsRepo  string

	SlackChannel    string
	SlackMethod     SlackMethod
	SlackToken      Secret
	SlackWebhookURL Secret

	// Access is people's access to Argo CD (hub only).
	Access Access
	// Where the charts come from.
	ArgoCDChart              ChartSource
	KubePrometheusStackChart ChartSource
}

// Raw is a stack's configuration as Pulumi hands it to the program: full keys
// ("gitops-platform:replicas") to string values, and which keys are secret.
type Raw struct {
	Values map[string]string
	Secret map[string]bool
	// Stack is the stack's name, for messages that name its file; empty
	// reads as <stack>.
	Stack string
}

// stackFile is the stack's config file, as messages name it.
func (r Raw) stackFile() string {
	if r.Stack == "" {
		return "Pulumi.<stack>.yaml"
	}
	return "Pulumi." + r.Stack + ".yaml"
}

// Problem is one bad config value.
type Problem struct {
	Key      string // full key, "gitops-platform:replicas"
	Value    string // as given, "[secret]" for secret keys, "" when missing
	Expected string
}

func (p Problem) String() string {
	if p.Value == "" {
		return fmt.Sprintf("%s: %s", p.Key, p.Expected)
	}
	return fmt.Sprintf("%s: %q: %s", p.Key, p.Value, p.Expected)
}

// ValidationError lists every problem found in a stack's config.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid stack configuration (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Keys reports the full key of every problem, for tests and tools.
func (e *ValidationError) Keys() []string {
	out := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		out = append(out, p.Key)
	}
	return out
}

// FullKey returns "gitops-platform:<key>".
func FullKey(key string) string { return Namespace + ":" + key }

// Parse reads, defaults and validates a stack's configuration. It never
// panics; every problem is returned at once in a *ValidationError.
func Parse(raw Raw) (*Config, error) {
	p := &parser{raw: raw}
	p.rejectUnknownKeys()
	c := p.typed()
	p.validate(c)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool { return keyOrder(p.problems[i].Key) < keyOrder(p.problems[j].Key) })
		return nil, &ValidationError{Problems: p.problems}
	}
	return c, nil
}

type parser struct {
	raw      Raw
	problems []Problem
}

// add records a problem with a key. Only a key's first problem is reported:
// a value that is missing is not also reported as malformed.
func (p *parser) add(key, value, expected string) {
	full := FullKey(key)
	if p.failed(key) {
		return
	}
	spec, _ := lookupKey(key)
	if (spec.kind == kindSecret || p.raw.Secret[full]) && value != "" {
		value = "[secret]"
	}
	p.problems = append(p.problems, Problem{Key: full, Value: value, Expected: expected})
}

// failed reports whether a key already has a problem.
func (p *parser) failed(key string) bool {
	for _, pr := range p.problems {
		if pr.Key == FullKey(key) {
			return true
		}
	}
	return false
}

// rejectUnknownKeys turns a typo under the project's namespace into an error:
// a misspelt key would otherwise leave the default silently in force.
func (p *parser) rejectUnknownKeys() {
	var unknown []string
	for full := range p.raw.Values {
		ns, key, ok := strings.Cut(full, ":")
		if !ok || ns != Namespace {
			continue // other namespaces belong to providers
		}
		if _, known := lookupKey(key); !known {
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	for _, key := range unknown {
		if why, ok := removedKeys[key]; ok {
			p.add(key, p.raw.Values[FullKey(key)], why)
			continue
		}
		expected := "unknown key"
		if s := suggest(key); s != "" {
			expected += fmt.Sprintf("; did you mean %q?", s)
		} else {
			expected += "; see the config section of Pulumi.yaml for the keys there are"
		}
		p.add(key, p.raw.Values[FullKey(key)], expected)
	}
}

// value returns a key's raw value and whether the stack set it; a key that is
// absent takes its declared default, as the Pulumi CLI does from Pulumi.yaml.
func (p *parser) value(spec keySpec) (string, bool) {
	v, ok := p.raw.Values[FullKey(spec.name)]
	if !ok {
		return spec.def, false
	}
	return v, true
}

func (p *parser) str(name string) string {
	spec, _ := lookupKey(name)
	v, set := p.value(spec)
	if spec.required && (!set || strings.TrimSpace(v) == "") {
		expected := "required; set it in " + p.raw.stackFile()
		if why, ok := requiredValues[name]; ok {
			expected = "required: " + why + "; set it in " + p.raw.stackFile()
		}
		p.add(name, v, expected)
	}
	return v
}

// path reads a file path; a leading ~/ is the home directory, as in a
// shell (Pulumi and the Kubernetes provider take the path as written).
func (p *parser) path(name string) string {
	v := p.str(name)
	switch {
	case v == "~" || strings.HasPrefix(v, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			p.add(name, v, "~ is your home directory, which cannot be found here ("+err.Error()+"); write the path in full")
			return v
		}
		return filepath.Join(home, strings.TrimPrefix(v, "~"))
	case strings.HasPrefix(v, "~"):
		p.add(name, v, "~user is not expanded; write the path in full (~/ is your own home directory)")
	}
	return v
}

func (p *parser) integer(name string, lo, hi int) int {
	spec, _ := lookupKey(name)
	v, _ := p.value(spec)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		p.add(name, v, fmt.Sprintf("expected a whole number from %d to %d", lo, hi))
	}
	return n
}

func (p *parser) boolean(name string) bool {
	spec, _ := lookupKey(name)
	v, _ := p.value(spec)
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	p.add(name, v, "expected true or false")
	return false
}

// secret reads a key that must be stored encrypted: a plain value there would
// sit in the stack file and in state in clear text.
func (p *parser) secret(name string) Secret {
	spec, _ := lookupKey(name)
	v, set := p.value(spec)
	if set && v != "" && !p.raw.Secret[FullKey(name)] {
		p.add(name, v, fmt.Sprintf("must be a secret; set it with `pulumi config set --secret %s <value>`", name))
	}
	return Secret{value: v}
}

func (p *parser) typed() *Config {
	return &Config{
		Environment:                     p.str(KeyEnvironment),
		Hub:                             p.boolean(KeyHub),
		HubStack:                        p.str(KeyHubStack),
		KubeContext:                     p.str(KeyKubeContext),
		Kubeconfig:                      p.path(KeyKubeconfig),
		ClusterServer:                   p.str(KeyClusterServer),
		ClusterInsecure:                 p.boolean(KeyClusterInsecure),
		LocalLab:                        p.boolean(KeyLocalLab),
		PrometheusRetention:             p.str(KeyPromRetention),
		PrometheusStorageSize:           p.str(KeyPromStorage),
		ArgoCDAdminEnabled:              p.boolean(KeyArgoCDAdmin),
		ArgoCDHA:                        p.boolean(KeyArgoCDHA),
		ArgoCDURL:                       p.str(KeyArgoCDURL),
		Replicas:                        p.integer(KeyReplicas, 1, 50),
		SyncMode:                        SyncMode(p.str(KeySyncMode)),
		AWSRegion:                       p.str(KeyAWSRegion),
		AppName:                         p.str(KeyAppName),
		AppNamespace:                    p.str(KeyAppNamespace),
		ArgoCDNamespace:                 p.str(KeyArgoCDNamespace),
		MonitoringNamespace:             p.str(KeyMonitoringNS),
		ArgoCDChartVersion:              p.str(KeyArgoCDChart),
		KubePrometheusStackChartVersion: p.str(KeyPrometheusChart),
		RegistryKeepImages:              p.integer(KeyRegistryKeep, 1, 1000),
		RegistryForceDelete:             p.boolean(KeyRegistryForceDelete),
		RegistryProtect:                 p.boolean(KeyRegistryProtect),
		ProductionData:                  p.boolean(KeyProductionData),
		PublicRepos:                     p.boolean(KeyPublicRepos),
		ReposOnDestroy:                  ReposOnDestroy(p.str(KeyReposOnDestroy)),
		GitHubOIDCProviderARN:           p.str(KeyOIDCProviderARN),
		BootstrapImage:                  p.boolean(KeyBootstrapImage),
		BootstrapImageTag:               p.str(KeyBootstrapImageTag),
		BootstrapImagePlatform:          p.str(KeyBootstrapPlatform),
		Registry:                        Registry(p.str(KeyRegistry)),
		GHCRPull:                        GHCRPull{Username: p.str(KeyGHCRPullUsername), Token: p.secret(KeyGHCRPullToken)},
		GitHubOwner:                     p.str(KeyGitHubOwner),
		SourceRepo:                      p.str(KeySourceRepo),
		GitopsRepo:                      p.str(KeyGitopsRepo),
		SlackChannel:                    p.str(KeySlackChannel),
		SlackMethod:                     SlackMethod(p.str(KeySlackMethod)),
		SlackToken:                      p.secret(KeySlackToken),
		SlackWebhookURL:                 p.secret(KeySlackWebhookURL),
		Access:                          p.access(),
		ArgoCDChart:                     p.chartSource(KeyArgoCDChartRepo, KeyArgoCDChartUser, KeyArgoCDChartPassword),
		KubePrometheusStackChart:        p.chartSource(KeyPromChartRepo, KeyPromChartUser, KeyPromChartPassword),
	}
}

// requiredValues say what a required key may be, for its message.
var requiredValues = map[string]string{
	KeyEnvironment: "dev, staging or prod",
	KeySyncMode:    "auto (Argo CD syncs on its own) or manual (a person syncs; prod)",
	KeyKubeContext: "this environment's kube context (kubectl config get-contexts)",
}

// keyOrder places a problem by its key's place in the key table, unknown keys last.
func keyOrder(full string) int {
	for i, k := range keys {
		if FullKey(k.name) == full {
			return i
		}
	}
	return len(keys)
}

// suggest returns the known key closest to a misspelt one, if any is close.
func suggest(key string) string {
	best, bestDist := "", 4
	for _, k := range keys {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k.name)); d < bestDist {
			best, bestDist = k.name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
