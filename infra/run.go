// Package infra reads a stack's configuration and wires the platform's
// components for that stack's role: the hub, or an environment that joins it.
package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/gitops-platform/gitops-platform/components/clusters"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/gitops-platform/gitops-platform/components/repos"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Run is the Pulumi program: pulumi.Run(infra.Run).
func Run(ctx *pulumi.Context) error {
	cfg, err := Parse(rawConfig(ctx))
	if err != nil {
		return err
	}
	access, err := readClusterAccess(ctx, cfg)
	if err != nil {
		return err
	}
	var gh *GitHubAccess
	if cfg.Hub { // the hub creates the repos: GitHub must be able to hold them
		if gh, err = checkGitHub(ctx, cfg); err != nil {
			return err
		}
	}
	return deploy(ctx, cfg, access, gh)
}

// readClusterAccess reads this environment's cluster from the kubeconfig,
// before any resource is registered, so a wrong context or a missing CA file
// stops the program with the key to fix.
func readClusterAccess(ctx *pulumi.Context, cfg *Config) (*ClusterAccess, error) {
	access, err := kubeconfigReader(ctx)(cfg.Kubeconfig, cfg.KubeContext)
	if err == nil {
		return access, nil
	}
	var notFound *ContextNotFoundError
	if errors.As(err, &notFound) {
		return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyKubeContext), Value: cfg.KubeContext,
			Expected: err.Error() + "; see `kubectl config get-contexts`"}}}
	}
	return nil, &ValidationError{Problems: []Problem{{Key: FullKey(KeyKubeconfig), Value: cfg.Kubeconfig, Expected: err.Error()}}}
}

type configKeysKey struct{}

// WithConfigKeys tells Run which config keys the context holds. The SDK's
// Context can read a key but cannot list them; under pulumi.Run the list comes
// from the same PULUMI_CONFIG variable the SDK reads, and a program run under
// mocks passes the keys of its RunInfo.Config here.
func WithConfigKeys(ctx *pulumi.Context, keys []string) *pulumi.Context {
	return ctx.WithValue(configKeysKey{}, keys)
}

func rawConfig(ctx *pulumi.Context) Raw {
	keys, ok := ctx.Value(configKeysKey{}).([]string)
	if !ok {
		var env map[string]string
		// A malformed variable leaves the key list empty, as the SDK leaves
		// its config empty; the required keys then report what is missing.
		_ = json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &env)
		for k := range env {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	raw := Raw{Values: map[string]string{}, Secret: map[string]bool{}, Stack: ctx.Stack()}
	for _, k := range keys {
		if v, ok := ctx.GetConfig(k); ok {
			raw.Values[k] = v
			raw.Secret[k] = ctx.IsConfigSecret(k)
		}
	}
	return raw
}

// deploy brings this stack's cluster into the platform: its monitoring,
// then the hub (made here, or read from the hub's stack), then the
// environment's own part.
func deploy(ctx *pulumi.Context, cfg *Config, access *ClusterAccess, gh *GitHubAccess) error {
	envProvider, err := newKubeProvider(ctx, cfg.Environment, pulumi.String(cfg.KubeContext), cfg.Kubeconfig)
	if err != nil {
		return err
	}
	var ref *pulumi.StackReference
	if !cfg.Hub {
		if ref, err = pulumi.NewStackReference(ctx, cfg.HubStack, nil); err != nil {
			return fmt.Errorf("hub stack reference %s: %w", cfg.HubStack, err)
		}
	}
	mon, err := monitoring.New(ctx, "monitoring", &monitoring.Args{
		Namespace:    cfg.MonitoringNamespace,
		ChartVersion: cfg.KubePrometheusStackChartVersion,
		Chart:        cfg.KubePrometheusStackChart.Source(),
		Values:       monitoring.ValuesOptions{Retention: cfg.PrometheusRetention, StorageSize: cfg.PrometheusStorageSize},
		Hub:          cfg.Hub,
		Environment:  cfg.Environment,
		Slack:        cfg.slack().alerts(),
	}, pulumi.Providers(envProvider))
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	ctx.Export(OutputGrafanaURL, mon.GrafanaURL)
	ctx.Export(OutputPrometheusURL, mon.PrometheusURL)
	ctx.Export(OutputGrafanaPassword, mon.GrafanaPassword)
	ctx.Export(OutputGrafanaOpen, pulumi.String(grafanaOpen(cfg, ctx.Stack())))

	var hub *hubRefs
	if cfg.Hub {
		hub, err = deployHub(ctx, cfg, gh, envProvider, mon)
	} else {
		hub, err = referenceHub(ctx, cfg, ref)
	}
	if err != nil {
		return err
	}
	return deployEnvironment(ctx, cfg, access, envProvider, mon, hub)
}

// deployEnvironment registers this stack's cluster with the hub, once its
// pull credential and the monitoring CRDs exist, and commits its overlay.
func deployEnvironment(ctx *pulumi.Context, cfg *Config, access *ClusterAccess, envProvider pulumi.ProviderResource,
	mon *monitoring.Monitoring, hub *hubRefs) error {
	cluster, err := clusters.New(ctx, cfg.Environment, &clusters.Args{
		Environment:     cfg.Environment,
		SyncMode:        string(cfg.SyncMode),
		AppNamespace:    cfg.AppNamespace,
		Server:          cfg.ClusterServer,
		CAData:          access.CAData,
		Insecure:        cfg.ClusterInsecure,
		ArgoCDNamespace: hub.argocdNamespace,
		EnvProvider:     envProvider,
		HubProvider:     hub.provider,
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cfg.Environment, err)
	}
	pull, err := newPullSecret(ctx, cfg, hub, cluster.AppNamespace, envProvider)
	if err != nil {
		return err
	}
	// Argo CD sees the cluster, and syncs the app there, only once the
	// monitoring CRDs (the app's ServiceMonitor) and the pull secret exist.
	if err := cluster.Register(ctx, mon.Release, pull); err != nil {
		return fmt.Errorf("cluster %s: %w", cfg.Environment, err)
	}
	overlay, err := commitOverlay(ctx, cfg, hub)
	if err != nil {
		return err
	}
	ctx.Export(OutputEnvironment, pulumi.String(cfg.Environment))
	ctx.Export(OutputAppNamespace, cluster.AppNamespace)
	ctx.Export(OutputClusterSecret, cluster.ClusterSecret)
	ctx.Export(OutputOverlayPath, overlay.Path)
	return nil
}

// commitOverlay commits this environment's overlay to the gitops repo and,
// on the hub, the CI workflow after it.
func commitOverlay(ctx *pulumi.Context, cfg *Config, hub *hubRefs) (*repos.Overlay, error) {
	overlay, err := repos.NewOverlay(ctx, cfg.Environment+"-overlay", &repos.OverlayArgs{
		GitopsRepo:      hub.gitopsRepo,
		ImageRepository: hub.imageRepository,
		ImageTag:        hub.imageTag,
		Environment:     cfg.Environment,
		AppName:         cfg.AppName,
		AppNamespace:    cfg.AppNamespace,
		Replicas:        cfg.Replicas,
		SyncMode:        string(cfg.SyncMode),
	}, pulumi.Providers(hub.github))
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", cfg.Environment, err)
	}
	if cfg.Hub {
		// Last: every push to main runs the workflow, which reads the
		// Actions settings and edits the overlays.
		if _, err := repos.NewWorkflow(ctx, "ci-workflow", &repos.WorkflowArgs{
			Repos: hub.repos, After: []pulumi.Resource{overlay},
		}, pulumi.Providers(hub.github)); err != nil {
			return nil, fmt.Errorf("ci workflow: %w", err)
		}
	}
	return overlay, nil
}
