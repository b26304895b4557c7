package guardrails_test

import (
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/gitops-platform/gitops-platform/policy/guardrails/guardrailstest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// analyzed builds a resource as the engine hands it to a policy.
var analyzed = guardrailstest.Resource

// violations runs the pack for a stack over resources, naming the broken
// rules with their level.
var violations = guardrailstest.Violations

func clusterSecret(env, sync string, insecure bool) policyx.AnalyzerResource {
	config := `{"bearerToken":"t","tlsClientConfig":{"caData":"Q0E="}}`
	if insecure {
		config = `{"bearerToken":"t","tlsClientConfig":{"insecure":true}}`
	}
	return analyzed("kubernetes:core/v1:Secret", map[string]any{
		"metadata":   map[string]any{"name": "cluster-" + env, "labels": map[string]any{"argocd.argoproj.io/secret-type": "cluster", "gitops.platform/env": env, "gitops.platform/sync": sync}},
		"stringData": map[string]any{"config": config, "server": "https://192.168.49.4:8443"},
	}, nil, false)
}

func appSet(project string, automated bool, selector map[string]any) policyx.AnalyzerResource {
	policy := map[string]any{"syncOptions": []any{"CreateNamespace=true"}}
	if automated {
		policy["automated"] = map[string]any{"prune": true, "selfHeal": true}
	}
	return analyzed("kubernetes:argoproj.io/v1alpha1:ApplicationSet", map[string]any{
		"metadata": map[string]any{"name": "gitops-monitor-x"},
		"spec": map[string]any{
			"generators": []any{map[string]any{"clusters": map[string]any{"selector": selector}}},
			"template":   map[string]any{"spec": map[string]any{"project": project, "syncPolicy": policy}},
		},
	}, nil, false)
}

// escaped writes GitHub's issuer in a role's trust policy with a JSON
// escape, as valid JSON that means the same to IAM.
func escaped(r policyx.AnalyzerResource) policyx.AnalyzerResource {
	doc := r.Properties.Get("assumeRolePolicy").AsString()
	return analyzed(r.Type, map[string]any{"assumeRolePolicy": strings.ReplaceAll(doc, "token.actions", `token\u002eactions`)}, nil, false)
}

func application(env string, automated bool) policyx.AnalyzerResource {
	labels := map[string]any{}
	if env != "" {
		labels["gitops.platform/env"] = env
	}
	policy := map[string]any{}
	if automated {
		policy["automated"] = map[string]any{"prune": true}
	}
	return analyzed("kubernetes:argoproj.io/v1alpha1:Application", map[string]any{
		"metadata": map[string]any{"name": "a", "labels": labels},
		"spec":     map[string]any{"project": "gitops-monitor", "syncPolicy": policy},
	}, nil, false)
}

func ecr(mutability string, scan, forceDelete, protect bool) policyx.AnalyzerResource {
	return analyzed("aws:ecr/repository:Repository", map[string]any{
		"name": "gitops-monitor", "imageTagMutability": mutability, "forceDelete": forceDelete,
		"imageScanningConfiguration": map[string]any{"scanOnPush": scan},
	}, nil, protect)
}

func ciRole(condition string) policyx.AnalyzerResource {
	return analyzed("aws:iam/role:Role", map[string]any{"assumeRolePolicy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
		`"Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}]}`}, nil, false)
}

// TestPolicyRules gives every rule a compliant resource, which it must
// pass, and a violating one, which it must report with its level.
func TestPolicyRules(t *testing.T) {
	t.Parallel()
	sub := func(s string) string {
		return `{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":` + s + `}}`
	}
	auto := map[string]any{"matchLabels": map[string]any{"gitops.platform/sync": "auto"}}
	autoNotProd := map[string]any{"matchLabels": map[string]any{"gitops.platform/sync": "auto"},
		"matchExpressions": []any{map[string]any{"key": "gitops.platform/env", "operator": "NotIn", "values": []any{"prod"}}}}
	cases := []struct {
		rule      string
		stack     guardrails.Stack
		compliant policyx.AnalyzerResource
		violating policyx.AnalyzerResource
		level     string
		message   string
	}{
		{"cluster-secret-verifies-tls", guardrails.Stack{}, clusterSecret("staging", "auto", false), clusterSecret("staging", "auto", true),
			"mandatory", `cluster "staging" sets tlsClientConfig.insecure: true`},
		{"cluster-secret-verifies-tls", guardrails.Stack{LocalLab: true}, clusterSecret("dev", "auto", false), clusterSecret("dev", "auto", true),
			"advisory", "insecure: true"},
		{"prod-cluster-syncs-manually", guardrails.Stack{}, clusterSecret("prod", "manual", false), clusterSecret("prod", "auto", false),
			"mandatory", "prod waits for a person"},
		{"applicationset-automated-excludes-prod", guardrails.Stack{}, appSet("gitops-monitor", true, autoNotProd), appSet("gitops-monitor", true, auto),
			"mandatory", "the selector can match a prod cluster"},
		{"applicationset-automated-excludes-prod", guardrails.Stack{}, appSet("gitops-monitor", false, auto),
			appSet("gitops-monitor", true, map[string]any{"matchLabels": map[string]any{"gitops.platform/env": "prod"}}),
			"mandatory", "the selector can match a prod cluster"},
		{"applicationset-own-project", guardrails.Stack{}, appSet("gitops-monitor", false, auto), appSet("default", false, auto),
			"mandatory", `project "default"`},
		{"applicationset-own-project", guardrails.Stack{}, appSet("gitops-monitor", false, auto), appSet("{{ .name }}", false, auto),
			"mandatory", "is templated"},
		{"ecr-immutable-and-scanned", guardrails.Stack{}, ecr("IMMUTABLE", true, true, false), ecr("MUTABLE", true, true, false),
			"mandatory", `imageTagMutability is "MUTABLE"`},
		{"ecr-immutable-and-scanned", guardrails.Stack{}, ecr("IMMUTABLE", true, true, false), ecr("IMMUTABLE", false, true, false),
			"mandatory", "scanOnPush is not true"},
		{"ecr-production-data-protected", guardrails.Stack{ProductionData: true}, ecr("IMMUTABLE", true, false, true), ecr("IMMUTABLE", true, false, false),
			"mandatory", "not protected"},
		{"ecr-production-data-protected", guardrails.Stack{ProductionData: true}, ecr("IMMUTABLE", true, false, true), ecr("IMMUTABLE", true, true, true),
			"mandatory", "forceDelete is on"},
		{"github-repo-private", guardrails.Stack{},
			analyzed("github:index/repository:Repository", map[string]any{"name": "s", "visibility": "private"}, nil, false),
			analyzed("github:index/repository:Repository", map[string]any{"name": "s", "visibility": "public"}, nil, false),
			"mandatory", `visibility is "public"`},
		{"actions-secret-is-pulumi-secret", guardrails.Stack{},
			analyzed("github:index/actionsSecret:ActionsSecret", map[string]any{"secretName": "K"}, map[string]string{"plaintextValue": "key"}, false),
			analyzed("github:index/actionsSecret:ActionsSecret", map[string]any{"secretName": "K", "plaintextValue": "key"}, nil, false),
			"mandatory", "plaintextValue is not a Pulumi secret"},
		{"helm-chart-version-pinned", guardrails.Stack{},
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "argo-cd", "version": "9.4.16"}, nil, false),
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "argo-cd", "version": "^9.4.0"}, nil, false),
			"mandatory", `chart version "^9.4.0" is not exact`},
		{"helm-chart-version-pinned", guardrails.Stack{},
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "argo-cd", "version": "9.4.16"}, nil, false),
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "argo-cd"}, nil, false),
			"mandatory", `chart version "" is not exact`},
		{"helm-chart-version-pinned", guardrails.Stack{},
			// A chart from an OCI mirror answers to the same rule.
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "oci://registry.example.com/charts/argo-cd", "version": "9.4.16"}, nil, false),
			analyzed("kubernetes:helm.sh/v3:Release", map[string]any{"chart": "oci://registry.example.com/charts/argo-cd", "version": "9.x"}, nil, false),
			"mandatory", `chart version "9.x" is not exact`},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`"repo:o/src:environment:release"`)), ciRole(sub(`"repo:o/*:environment:release"`)),
			"mandatory", "is not one environment of one repository"},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`"repo:o/src:environment:release"`)),
			// A branch subject admits every job on the branch, in or out of an environment.
			ciRole(sub(`"repo:o/src:ref:refs/heads/main"`)),
			"mandatory", `subject "repo:o/src:ref:refs/heads/main" is not one environment`},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`"repo:o/src:environment:release"`)),
			ciRole(sub(`"repo:o/src:environment:*"`)),
			"mandatory", "is not one environment of one repository"},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`["repo:o/src:environment:release"]`)),
			ciRole(sub(`["repo:o/src:environment:release","repo:o/src:environment:dev"]`)),
			"mandatory", "names 2 subjects"},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`"repo:o/src:environment:release"`)),
			ciRole(`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/src:*"}}`),
			"mandatory", "matched with StringLike"},
		{"ci-role-one-repo-one-environment", guardrails.Stack{}, ciRole(sub(`"repo:o/src:environment:release"`)),
			// JSON escapes must not hide GitHub's issuer from the rule.
			escaped(ciRole(`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/*"}}`)),
			"mandatory", "matched with StringLike"},
		{"application-automated-not-prod", guardrails.Stack{}, application("staging", true), application("prod", true),
			"mandatory", "prod waits for a person"},
		{"application-automated-not-prod", guardrails.Stack{}, application("prod", false), application("", true),
			"mandatory", "must carry the gitops.platform/env label"},
		{"app-namespace-restricted", guardrails.Stack{},
			analyzed("kubernetes:core/v1:Namespace", map[string]any{"metadata": map[string]any{"name": "gitops-monitor",
				"labels": map[string]any{"gitops.platform/env": "prod", "pod-security.kubernetes.io/enforce": "restricted"}}}, nil, false),
			analyzed("kubernetes:core/v1:Namespace", map[string]any{"metadata": map[string]any{"name": "gitops-monitor",
				"labels": map[string]any{"gitops.platform/env": "prod", "pod-security.kubernetes.io/enforce": "baseline"}}}, nil, false),
			"mandatory", `enforces Pod Security level "baseline"`},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.rule] = true
		assert.Empty(t, violations(t, c.stack, c.compliant), "%s: compliant", c.rule)
		got := violations(t, c.stack, c.violating)
		require.NotEmpty(t, got, "%s: violating", c.rule)
		assert.True(t, strings.HasPrefix(got[0], c.rule+" "+c.level+": "), "%s: %v", c.rule, got)
		assert.Contains(t, strings.Join(got, "\n"), c.message, c.rule)
	}
	// Stack rules judge resources together.
	writeKey := func(readOnly any) policyx.AnalyzerResource {
		props := map[string]any{"repository": "gitops", "title": "ci"}
		if readOnly != nil {
			props["readOnly"] = readOnly
		}
		k := analyzed("github:index/repositoryDeployKey:RepositoryDeployKey", props, nil, false)
		k.Dependencies = []string{"urn:pulumi:test::gitops-platform::tls:index/privateKey:PrivateKey::ci-key"}
		return k
	}
	holding := func(typ string) policyx.AnalyzerResource {
		r := analyzed(typ, map[string]any{"repository": "source", "secretName": "GITOPS_DEPLOY_KEY", "environment": "release"},
			map[string]string{"value": "key"}, false)
		r.Dependencies = []string{"urn:pulumi:test::gitops-platform::tls:index/privateKey:PrivateKey::ci-key"}
		return r
	}
	stackCases := []struct {
		rule                 string
		compliant, violating []policyx.AnalyzerResource
		message              string
	}{
		{"ruleset-bypass-key-in-environment",
			[]policyx.AnalyzerResource{writeKey(false), holding("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")},
			[]policyx.AnalyzerResource{writeKey(false), holding("github:index/actionsSecret:ActionsSecret")},
			"holds the write deploy key r, which bypasses the repository's ruleset"},
		{"ruleset-bypass-key-in-environment",
			// A read-only key (the provider's default) bypasses nothing.
			[]policyx.AnalyzerResource{writeKey(nil), holding("github:index/actionsSecret:ActionsSecret")},
			[]policyx.AnalyzerResource{writeKey(false), holding("github:index/actionsOrganizationSecret:ActionsOrganizationSecret")},
			"make it a secret of a GitHub environment"},
	}
	for _, c := range stackCases {
		covered[c.rule] = true
		assert.Empty(t, violations(t, guardrails.Stack{}, c.compliant...), "%s: compliant", c.rule)
		got := violations(t, guardrails.Stack{}, c.violating...)
		require.Len(t, got, 1, "%s: violating", c.rule)
		assert.True(t, strings.HasPrefix(got[0], c.rule+" mandatory: "), "%s: %v", c.rule, got)
		assert.Contains(t, got[0], c.message, c.rule)
	}
	pack, err := guardrails.New(guardrails.Stack{Environment: "dev"})
	require.NoError(t, err)
	for _, p := range pack.Policies() {
		assert.True(t, covered[p.Name()], "rule %s has no test case", p.Name())
	}
}

// TestPolicyChecksChartExtraObjects checks objects a Helm release creates
// from its values (argo-cd's extraObjects) answer to the same rules: an
// insecure cluster Secret and an automated ApplicationSet that can reach
// prod, hidden in the values, are reported.
func TestPolicyChecksChartExtraObjects(t *testing.T) {
	t.Parallel()
	insecure := clusterSecret("prod", "manual", true).Properties
	appset := appSet("gitops-monitor", true, map[string]any{"matchLabels": map[string]any{"gitops.platform/sync": "auto"}}).Properties
	toGo := func(m property.Map) any { return resource.ToResourcePropertyValue(property.New(m)).Mappable() }
	release := analyzed("kubernetes:helm.sh/v3:Release", map[string]any{
		"chart": "argo-cd", "version": "9.4.16",
		"values": map[string]any{"extraObjects": []any{
			map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": toGo(insecure).(map[string]any)["metadata"], "stringData": toGo(insecure).(map[string]any)["stringData"]},
			map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": map[string]any{"name": "sneaky"}, "spec": toGo(appset).(map[string]any)["spec"]},
		}},
	}, nil, false)
	got := strings.Join(violations(t, guardrails.Stack{}, release), "\n")
	assert.Contains(t, got, "cluster-secret-verifies-tls mandatory: values.extraObjects[0] (kubernetes:core/v1:Secret cluster-prod)")
	assert.Contains(t, got, "applicationset-automated-excludes-prod mandatory: values.extraObjects[1] (kubernetes:argoproj.io/v1alpha1:ApplicationSet sneaky)")
}

// TestPolicyRefusesAStackOfAnotherProject checks the pack will not judge a
// stack it does not know, and says why.
func TestPolicyRefusesAStackOfAnotherProject(t *testing.T) {
	t.Parallel()
	_, err := guardrails.StackFromConfig("qa", func(string) (string, bool) { return "", false })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `stack "qa" has no gitops-platform:environment`)
	_, err = guardrails.StackFromConfig("dev", func(k string) (string, bool) {
		return map[string]string{"gitops-platform:environment": "dev", "gitops-platform:localLab": "maybe"}[k], true
	})
	assert.ErrorContains(t, err, `gitops-platform:localLab is "maybe", expected true or false`)
}
