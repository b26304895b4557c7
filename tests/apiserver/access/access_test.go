// Package access asks Argo CD's own code about people's access to the hub as
// the program configures it: the RBAC enforcer argocd-server runs (the code
// behind `argocd admin settings rbac can`), loaded from the rendered
// argocd-rbac-cm the way argocd-server loads it, and the Dex and OIDC
// settings Argo CD builds from the rendered argocd-cm and argocd-secret.
// No cluster: the ConfigMaps and the Secret sit in a fake clientset, as the
// argo-cd chart would write them from the rendered Helm values.
package access

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	applister "github.com/argoproj/argo-cd/v3/pkg/client/listers/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/server/rbacpolicy"
	"github.com/argoproj/argo-cd/v3/util/assets"
	"github.com/argoproj/argo-cd/v3/util/dex"
	"github.com/argoproj/argo-cd/v3/util/rbac"
	"github.com/argoproj/argo-cd/v3/util/settings"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"
)

var projectRoot = filepath.Join("..", "..", "..")

// The hub's SSO settings each test renders, with the client secret a
// `secure:` value as `pulumi config set --secret` writes it.
const (
	githubHub = `  gitops-platform:argocdUrl: https://argocd.example.com
  gitops-platform:argocdSso: github
  gitops-platform:argocdSsoClientId: Iv1.0123abcd
  gitops-platform:argocdSsoClientSecret:
    secure: v1:c3NvLXNlY3JldA==
  gitops-platform:argocdAdmins: gitops-seminar:platform
  gitops-platform:argocdDeployers: gitops-seminar:developers
  gitops-platform:argocdProdDeployers: gitops-seminar:sre
`
	oidcHub = `  gitops-platform:argocdUrl: https://argocd.example.com
  gitops-platform:argocdSso: oidc
  gitops-platform:argocdSsoClientId: argocd
  gitops-platform:argocdSsoClientSecret:
    secure: v1:c3NvLXNlY3JldA==
  gitops-platform:argocdOidcIssuer: https://login.example.com/realms/platform
  gitops-platform:argocdOidcGroupsClaim: roles
  gitops-platform:argocdProdDeployers: prod-deployers
`
)

// binDir holds the render command, built once for the package.
var binDir string

var renderBinary = sync.OnceValues(func() (string, error) { return kit.BuildRender(projectRoot, binDir) })

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "access-render"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

// hubConfig renders the hub with extra stack-file lines and returns the
// Argo CD configuration the chart writes from its values, in a fake
// clientset.
func hubConfig(t *testing.T, hub string) (*kit.ArgoCDConfig, *fake.Clientset) {
	t.Helper()
	bin, err := renderBinary()
	require.NoError(t, err)
	tmp := t.TempDir()
	project := filepath.Join(tmp, "project")
	require.NoError(t, kit.CopyProject(projectRoot, project, hub))
	out := filepath.Join(tmp, "render")
	require.NoError(t, kit.RenderStack(bin, project, "", "dev", filepath.Join(out, "dev")))
	values, err := kit.HelmValues(out)
	require.NoError(t, err)
	config, err := kit.ArgoCDConfigFromValues(values)
	require.NoError(t, err)
	kube := fake.NewClientset()
	require.NoError(t, config.Apply(kube, ""))
	return config, kube
}

// enforcer is Argo CD's RBAC enforcer as argocd-server sets it up: the
// built-in policy, the claims enforcer, and argocd-rbac-cm loaded by the
// policy loader, scopes included; probe is a person the loaded policy
// lets sync prod. The fake clientset holds argocd-rbac-cm alone: its
// ConfigMap informer ignores the loader's field selector, and would feed
// it argocd-cm too.
func enforcer(t *testing.T, config *kit.ArgoCDConfig, probe jwt.MapClaims) *rbac.Enforcer {
	t.Helper()
	kube := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-rbac-cm", Namespace: kit.ArgoCDNamespace, Labels: kit.PartOfArgoCD},
		Data:       config.ConfigMaps["argocd-rbac-cm"],
	})
	enf := rbac.NewEnforcer(kube, kit.ArgoCDNamespace, "argocd-rbac-cm", nil)
	require.NoError(t, enf.SetBuiltinPolicy(assets.BuiltinPolicyCSV))
	// The platform's AppProject, with no project roles of its own: the
	// claims enforcer looks an Application's project up first.
	projects := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	require.NoError(t, projects.Add(&v1alpha1.AppProject{ObjectMeta: metav1.ObjectMeta{Name: "gitops-monitor", Namespace: kit.ArgoCDNamespace}}))
	policy := rbacpolicy.NewRBACPolicyEnforcer(enf, applister.NewAppProjectLister(projects).AppProjects(kit.ArgoCDNamespace))
	enf.SetClaimsEnforcerFunc(policy.EnforceClaims)
	loaded := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		// As argocd-server's rbacPolicyLoader: scopes from the ConfigMap.
		_ = enf.RunPolicyLoader(ctx, func(cm *corev1.ConfigMap) error {
			var scopes []string
			if s := cm.Data[rbac.ConfigMapScopesKey]; s != "" {
				if err := yaml.Unmarshal([]byte(s), &scopes); err != nil {
					return err
				}
			}
			policy.SetScopes(scopes)
			select {
			case loaded <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	select {
	case <-loaded:
	case <-time.After(30 * time.Second):
		t.Fatal("argocd-rbac-cm was never loaded")
	}
	// SetUserPolicy runs right after the callback.
	require.Eventually(t, func() bool {
		return enf.Enforce(probe, "applications", "sync", "gitops-monitor/gitops-monitor-prod")
	}, 10*time.Second, 50*time.Millisecond, "the user policy was never loaded")
	return enf
}

// TestWhoMayDoWhatInArgoCD asks Argo CD's enforcer a table of questions
// about people with the GitHub teams the hub's config names.
func TestWhoMayDoWhatInArgoCD(t *testing.T) {
	config, _ := hubConfig(t, githubHub)
	enf := enforcer(t, config, jwt.MapClaims{"sub": "probe", "groups": []any{"gitops-seminar:sre"}})
	person := func(groups ...string) jwt.MapClaims {
		g := make([]any, len(groups))
		for i, x := range groups {
			g[i] = x
		}
		return jwt.MapClaims{"sub": "someone", "groups": g}
	}
	var (
		admin    = person("gitops-seminar:platform")
		deployer = person("gitops-seminar:developers")
		prodDep  = person("gitops-seminar:sre")
		both     = person("gitops-seminar:developers", "gitops-seminar:sre")
		nobody   = person("gitops-seminar:everyone-else")
		outsider = person("other-org:sre") // a team of the same name elsewhere
	)
	const (
		dev     = "gitops-monitor/gitops-monitor-dev"
		staging = "gitops-monitor/gitops-monitor-staging"
		prod    = "gitops-monitor/gitops-monitor-prod"
	)
	for _, q := range []struct {
		who              string
		claims           jwt.MapClaims
		resource, action string
		object           string
		want             bool
	}{
		{"a prod deployer syncs prod", prodDep, "applications", "sync", prod, true},
		{"a prod deployer deletes prod's Application", prodDep, "applications", "delete", prod, true},
		{"a prod deployer may not sync dev", prodDep, "applications", "sync", dev, false},
		{"a deployer syncs dev", deployer, "applications", "sync", dev, true},
		{"a deployer syncs staging", deployer, "applications", "sync", staging, true},
		{"a deployer may not sync prod", deployer, "applications", "sync", prod, false},
		{"a deployer may not delete staging's Application", deployer, "applications", "delete", staging, false},
		{"a member of both syncs prod", both, "applications", "sync", prod, true},
		{"a member of no group reads prod", nobody, "applications", "get", prod, true},
		{"a member of no group may not sync dev", nobody, "applications", "sync", dev, false},
		{"a team of another org may not sync prod", outsider, "applications", "sync", prod, false},
		{"a deployer may not change the project", deployer, "projects", "update", "gitops-monitor", false},
		{"a prod deployer may not change the project", prodDep, "projects", "update", "gitops-monitor", false},
		{"a prod deployer may not change a cluster", prodDep, "clusters", "update", "*", false},
		{"a deployer may not add a cluster", deployer, "clusters", "create", "*", false},
		{"an admin changes the project", admin, "projects", "update", "gitops-monitor", true},
		{"an admin changes a cluster", admin, "clusters", "update", "*", true},
		{"an admin syncs prod", admin, "applications", "sync", prod, true},
	} {
		assert.Equal(t, q.want, enf.Enforce(q.claims, q.resource, q.action, q.object), q.who)
	}
}

// TestDexConfigResolves builds Dex's configuration with Argo CD's own code
// from the rendered argocd-cm and argocd-secret: the GitHub connector's
// client secret resolves to the key the program writes in argocd-secret,
// and Argo CD's client calls back to argocdUrl.
func TestDexConfigResolves(t *testing.T) {
	config, kube := hubConfig(t, githubHub)
	mgr := settings.NewSettingsManager(context.Background(), kube, kit.ArgoCDNamespace)
	s, err := mgr.GetSettings()
	require.NoError(t, err)
	require.True(t, s.IsDexConfigured())
	b, err := dex.GenerateDexConfigYAML(s, true)
	require.NoError(t, err)
	var cfg struct {
		Connectors []struct {
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		} `json:"connectors"`
		StaticClients []struct {
			ID           string   `json:"id"`
			RedirectURIs []string `json:"redirectURIs"`
		} `json:"staticClients"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	require.Len(t, cfg.Connectors, 1)
	secret := config.Secret["dex.github.clientSecret"]
	require.NotEmpty(t, secret, "the program writes the client secret into argocd-secret")
	assert.Equal(t, secret, cfg.Connectors[0].Config["clientSecret"], "the $reference resolves")
	assert.Equal(t, "https://argocd.example.com/api/dex/callback", cfg.Connectors[0].Config["redirectURI"])
	assert.Equal(t, []any{map[string]any{"name": "gitops-seminar"}}, cfg.Connectors[0].Config["orgs"])
	require.NotEmpty(t, cfg.StaticClients)
	assert.Equal(t, "argo-cd", cfg.StaticClients[0].ID)
	assert.Equal(t, []string{"https://argocd.example.com/auth/callback"}, cfg.StaticClients[0].RedirectURIs)
	for name, data := range config.ConfigMaps {
		for k, v := range data {
			assert.NotContains(t, v, secret, "%s/%s holds the client secret", name, k)
		}
	}
}

// TestOIDCConfigResolves reads the OIDC settings with Argo CD's own code:
// the issuer, the client and its secret from argocd-secret, no Dex, and
// the RBAC scope is the configured claim.
func TestOIDCConfigResolves(t *testing.T) {
	config, kube := hubConfig(t, oidcHub)
	s, err := settings.NewSettingsManager(context.Background(), kube, kit.ArgoCDNamespace).GetSettings()
	require.NoError(t, err)
	assert.False(t, s.IsDexConfigured())
	require.True(t, s.IsSSOConfigured())
	oidc := s.OIDCConfig()
	require.NotNil(t, oidc)
	assert.Equal(t, "https://login.example.com/realms/platform", oidc.Issuer)
	assert.Equal(t, "argocd", oidc.ClientID)
	assert.Equal(t, config.Secret["oidc.clientSecret"], oidc.ClientSecret, "the $reference resolves")
	assert.NotEmpty(t, oidc.ClientSecret)

	enf := enforcer(t, config, jwt.MapClaims{"sub": "x", "roles": []any{"prod-deployers"}})
	assert.True(t, enf.Enforce(jwt.MapClaims{"sub": "x", "roles": []any{"prod-deployers"}}, "applications", "sync", "gitops-monitor/gitops-monitor-prod"),
		"groups come from the configured claim")
	assert.False(t, enf.Enforce(jwt.MapClaims{"sub": "x", "groups": []any{"prod-deployers"}}, "applications", "sync", "gitops-monitor/gitops-monitor-prod"),
		"not from another claim")
}
