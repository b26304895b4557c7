package tests

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	typeKubeProvider   = "pulumi:providers:kubernetes"
	typeAWSProvider    = "pulumi:providers:aws"
	typeGitHubProvider = "pulumi:providers:github"
	typeStackRef       = "pulumi:pulumi:StackReference"
	typeNamespace      = "kubernetes:core/v1:Namespace"
	typeSecret         = "kubernetes:core/v1:Secret"
	typeECR            = "aws:ecr/repository:Repository"
	typeLifecycle      = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	typeRepo           = "github:index/repository:Repository"
	typeRepoFile       = "github:index/repositoryFile:RepositoryFile"
)

// providerOf names the provider a resource was registered with.
func providerOf(r *offline.Resource) string {
	parts := strings.Split(r.Provider, "::")
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// TestHubStack checks what the hub (dev) owns: ECR, both repos, Argo CD's
// namespace, its own cluster registered in-cluster, and the outputs the
// other stacks read.
func TestHubStack(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")

	aws := one(t, res, typeAWSProvider)
	assert.Equal(t, "ap-northeast-2", aws.Inputs["region"].StringValue())
	assert.Equal(t, infra.AWSProviderVersion, aws.Version)

	ecr := one(t, res, typeECR)
	assert.Equal(t, "gitops-monitor", ecr.Inputs["name"].StringValue())
	assert.Equal(t, "IMMUTABLE", ecr.Inputs["imageTagMutability"].StringValue())
	assert.True(t, path(ecr.Inputs, "imageScanningConfiguration", "scanOnPush").BoolValue())
	assert.Equal(t, "aws", providerOf(ecr))
	lc := one(t, res, typeLifecycle)
	assert.Contains(t, lc.Dependencies[0], "gitops-monitor", "the policy follows the repository through its name")

	repos := byType(res, typeRepo)
	require.Len(t, repos, 2)
	for _, r := range repos {
		assert.Equal(t, "private", r.Inputs["visibility"].StringValue(), r.Name)
		assert.True(t, r.Inputs["autoInit"].BoolValue(), "%s needs a main branch for the seeded files", r.Name)
	}

	var ns []string
	for _, n := range byType(res, typeNamespace) {
		ns = append(ns, path(n.Inputs, "metadata", "name").StringValue())
		assert.Equal(t, "dev", providerOf(n), "namespace %s goes to the dev cluster", n.Name)
	}
	assert.ElementsMatch(t, []string{"argocd", "gitops-monitor", "monitoring", "ecr-pull"}, ns)

	secret := named(t, res, typeSecret, "dev-registration")
	assert.Equal(t, "dev", providerOf(secret), "the hub writes its own registration with its own provider")
	assert.Equal(t, "https://kubernetes.default.svc", path(secret.Inputs, "stringData", "server").StringValue())

	for _, f := range byType(res, typeRepoFile) {
		assert.Equal(t, []string{"content"}, f.IgnoreChanges, "%s: Git owns seeded content after the first commit", f.Name)
		assert.Equal(t, "main", f.Inputs["branch"].StringValue())
	}

	out := offline.Plain(res.Outputs)
	assert.Equal(t, "dev", out[infra.OutputKubeContext])
	assert.Equal(t, "argocd", out[infra.OutputArgoCDNamespace])
	assert.Equal(t, "gitops-seminar", out[infra.OutputGitHubOwner])
	assert.Equal(t, "tech-seminar-gitops", out[infra.OutputGitopsRepo])
	assert.Equal(t, "tech-seminar-source", out[infra.OutputSourceRepo])
	assert.Equal(t, offline.ComputedPlaceholder(typeECR, "gitops-monitor", "repositoryUrl"), out[infra.OutputImageRepository])
	assert.Equal(t, "manifests/dev/kustomization.yaml", out[infra.OutputOverlayPath])

	// Without Slack, each component that would use it says so, on itself.
	require.Len(t, res.Warnings, 2, "%v", res.Warnings)
	on := map[string]string{}
	for _, w := range res.Warnings {
		require.Contains(t, res.WarningOn, w, "warning %q is attached to a component", w)
		on[w[strings.Index(w, ":")+2:strings.Index(w, " until")]] = res.WarningOn[w]
	}
	assert.Equal(t, map[string]string{
		"deploy notifications are off":      "urn:pulumi:dev::gitops-platform::gitops-platform:argocd:ArgoCD::argocd",
		"dev's alerts stay in Alertmanager": "urn:pulumi:dev::gitops-platform::gitops-platform:monitoring:Monitoring::monitoring",
	}, on)
}

// TestEnvironmentStacks checks that staging and prod own only their cluster's
// part, find the hub through a StackReference and write their registration
// into the hub's cluster with the hub's provider.
func TestEnvironmentStacks(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		server, sync, replicas string
	}{
		"staging": {"https://192.168.49.3:8443", "auto", "2"},
		"prod":    {"https://192.168.49.4:8443", "manual", "3"},
	}
	for env, w := range want {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			res := evaluate(t, env)
			assert.Empty(t, byType(res, typeECR), "only the hub owns ECR")
			assert.Empty(t, byType(res, typeRepo), "only the hub owns the repos")
			aws := one(t, res, typeAWSProvider)
			assert.Equal(t, "ap-northeast-2", aws.Inputs["region"].StringValue(), "the registry's region, from the hub")

			ref := one(t, res, typeStackRef)
			assert.Equal(t, "dev", ref.Inputs["name"].StringValue())

			hub := named(t, res, typeKubeProvider, "hub")
			assert.Equal(t, "dev", hub.Inputs["context"].StringValue(), "the hub's kube context comes from the hub's outputs")
			assert.Equal(t, env, named(t, res, typeKubeProvider, env).Inputs["context"].StringValue())
			assert.Equal(t, "gitops-seminar", one(t, res, typeGitHubProvider).Inputs["owner"].StringValue())

			ns := named(t, res, typeNamespace, env+"-app-namespace")
			assert.Equal(t, env, providerOf(ns), "the app namespace goes to this environment's cluster")

			secret := named(t, res, typeSecret, env+"-registration")
			assert.Equal(t, "hub", providerOf(secret), "the registration goes to the hub's cluster")
			assert.Equal(t, "argocd", path(secret.Inputs, "metadata", "namespace").StringValue())
			assert.Equal(t, "cluster-"+env, path(secret.Inputs, "metadata", "name").StringValue())
			labels := offline.Plain(path(secret.Inputs, "metadata", "labels").ObjectValue())
			assert.Equal(t, map[string]any{
				"argocd.argoproj.io/secret-type": "cluster",
				"gitops.platform/env":            env,
				"gitops.platform/sync":           w.sync,
				"app.kubernetes.io/managed-by":   "pulumi",
			}, labels)
			assert.Equal(t, w.server, path(secret.Inputs, "stringData", "server").StringValue())
			assert.Equal(t, env, path(secret.Inputs, "stringData", "name").StringValue())

			files, err := res.RepoFiles()
			require.NoError(t, err)
			require.Len(t, files, 1, "a joining stack commits only its own overlay")
			assert.Equal(t, "tech-seminar-gitops", files[0].Repo)
			assert.Equal(t, "manifests/"+env+"/kustomization.yaml", files[0].Path)
			assert.Contains(t, files[0].Content, "count: "+w.replicas)
			assert.Contains(t, files[0].Content, "app.kubernetes.io/environment: "+env)
		})
	}
}

// TestClusterSecretIsSecret checks that the whole cluster Secret, with the
// token of Argo CD's identity in the cluster, is a Pulumi secret, keeps TLS
// checks on with the kubeconfig's CA, and never reaches the render in clear.
func TestClusterSecretIsSecret(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "staging")
	secret := named(t, res, typeSecret, "staging-registration")
	require.True(t, secret.Inputs["stringData"].IsSecret(), "stringData must be a secret")
	var cfg struct {
		BearerToken     string `json:"bearerToken"`
		TLSClientConfig struct {
			Insecure bool   `json:"insecure"`
			CAData   string `json:"caData"`
		} `json:"tlsClientConfig"`
	}
	require.NoError(t, json.Unmarshal([]byte(path(secret.Inputs, "stringData", "config").StringValue()), &cfg))
	token := offline.ComputedPlaceholder(typeSecret, "staging-manager-token", "data.token")
	assert.Equal(t, token, cfg.BearerToken, "the token of argocd-manager, decoded")
	assert.False(t, cfg.TLSClientConfig.Insecure, "TLS checks stay on")
	assert.Equal(t, offline.KubeconfigPlaceholder("staging"), cfg.TLSClientConfig.CAData)
	assert.Equal(t, "gitops-monitor", path(secret.Inputs, "stringData", "namespaces").StringValue())

	dir := t.TempDir()
	require.NoError(t, res.Write(dir))
	assertNoStringInTree(t, dir, token)
	assert.Equal(t, offline.SecretPlaceholder, offline.Plain(secret.Inputs)["stringData"].(map[string]any)["config"])
}

func assertNoStringInTree(t *testing.T, dir, s string) {
	t.Helper()
	require.NoError(t, walkFiles(dir, func(p string, b []byte) {
		assert.NotContains(t, string(b), s, "%s leaks a secret", p)
	}))
}

// TestEveryResourceHasAParent checks the component shape: every resource
// but the providers and the StackReference belongs to a component of ours,
// and every component's type token is gitops-platform:<module>:<Type>.
func TestEveryResourceHasAParent(t *testing.T) {
	t.Parallel()
	token := regexp.MustCompile(`^gitops-platform:[a-z]+:[A-Z][A-Za-z]+$`)
	for _, env := range stacks {
		res := evaluate(t, env)
		components := map[string]bool{}
		for _, r := range res.Resources {
			if !r.Custom && !r.Read {
				assert.Regexp(t, token, r.Type)
				components[r.Name] = true
			}
		}
		for _, r := range res.Resources {
			if strings.HasPrefix(r.Type, "pulumi:") || !r.Custom {
				continue
			}
			require.NotEmpty(t, r.Parent, "%s %s has no parent", r.Type, r.Name)
			assert.True(t, strings.Contains(r.Parent, "gitops-platform:"), "%s %s: parent %s is not a component", r.Type, r.Name, r.Parent)
		}
	}
}

// TestRenderIsDeterministic checks that two runs register the same
// resources in the same order with the same inputs.
func TestRenderIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		a, err := json.Marshal(evaluate(t, env).Render())
		require.NoError(t, err)
		b, err := json.Marshal(evaluate(t, env).Render())
		require.NoError(t, err)
		assert.JSONEq(t, string(a), string(b), env)
	}
}

// TestHubWithoutOutputs checks that a stack whose hub has empty outputs
// stops with a message saying what to do, instead of targeting an empty kube
// context (which would be the kubeconfig's current one). A missing output is
// unknown in a preview and an error of the SDK's in an update.
func TestHubWithoutOutputs(t *testing.T) {
	t.Parallel()
	st, err := offline.LoadStack(projectDir, "prod")
	require.NoError(t, err)
	outputs := evaluate(t, "dev").Outputs.Copy()
	outputs["kubeContext"] = resource.NewProperty("")
	_, err = offline.Run(st, map[string]resource.PropertyMap{"dev": outputs})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run `pulumi up` on the hub first")
}

// TestUnexpectedInvokeFails checks that the recording mock refuses invokes
// it does not know, so the render can never make one up.
func TestUnexpectedInvokeFails(t *testing.T) {
	t.Parallel()
	st, err := offline.LoadStack(projectDir, "dev")
	require.NoError(t, err)
	_, err = offline.RunProgram(st, nil, func(ctx *pulumi.Context) error {
		var out map[string]any
		return ctx.Invoke("aws:index/getCallerIdentity:getCallerIdentity", map[string]any{}, &out)
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unexpected invoke aws:index/getCallerIdentity:getCallerIdentity")
}

// TestAWSProviderVersionMatchesGoMod checks that the explicitly registered
// AWS provider asks for the plugin the SDK in go.mod was generated for.
func TestAWSProviderVersionMatchesGoMod(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(projectDir + "/go.mod")
	require.NoError(t, err)
	assert.Regexp(t, `github.com/pulumi/pulumi-aws/sdk/v6 v`+regexp.QuoteMeta(infra.AWSProviderVersion)+`\n`, string(b))
}

// TestRegistrationWaitsForWhatTheAppNeeds checks that Argo CD sees an
// environment's cluster (and syncs the app there) only after the first
// ECR pull credential exists and the monitoring CRDs are in, in every stack,
// and that the first pull-secret refresh starts only once its key may pull
// and it may write the secret.
func TestRegistrationWaitsForWhatTheAppNeeds(t *testing.T) {
	t.Parallel()
	for _, env := range stacks {
		res := evaluate(t, env)
		reg := named(t, res, typeSecret, env+"-registration")
		assert.True(t, dependsOn(reg, "kubernetes:batch/v1:Job", env+"-ecr-pull-first-refresh"), "%s: after the first pull secret", env)
		assert.True(t, dependsOn(reg, "kubernetes:helm.sh/v3:Release", "monitoring"), "%s: after the monitoring CRDs", env)
		assert.True(t, dependsOn(reg, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", env+"-manager-app"), "%s: after argocd-manager's rights", env)
		// The first refresh may pull (the key's policy) and write the
		// pull secret (the refresher's binding) before it starts.
		first := named(t, res, "kubernetes:batch/v1:Job", env+"-ecr-pull-first-refresh")
		assert.True(t, dependsOn(first, "aws:iam/userPolicy:UserPolicy", env+"-ecr-pull-pull"), "%s: the first refresh after the key's policy", env)
		assert.True(t, dependsOn(first, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", env+"-ecr-pull-refresher"), "%s: the first refresh after its binding", env)
	}
}
