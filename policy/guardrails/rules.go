package guardrails

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"regexp"
	"slices"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Pack is a policy pack; New returns this project's.
type Pack = policyx.PolicyPack

// PackName and PackVersion identify the pack (PulumiPolicy.yaml says the same).
const (
	PackName    = "gitops-platform-guardrails"
	PackVersion = "0.1.0"
)

// Resource types the rules look at.
const (
	typeSecret         = "kubernetes:core/v1:Secret"
	typeApplicationSet = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
	typeECR            = platform.TypeECRRepository
	typeRepo           = "github:index/repository:Repository"
	typeRole           = "aws:iam/role:Role"
	typeApplication    = "kubernetes:argoproj.io/v1alpha1:Application"
	typeNamespace      = "kubernetes:core/v1:Namespace"
)

// Labels of Argo CD's cluster Secrets, as components/clusters writes them.
const (
	labelSecretType = platform.LabelSecretType
	labelEnv        = platform.LabelEnv
	labelSync       = platform.LabelSync
)

// ProdEnvironment is the environment that never syncs on its own.
const ProdEnvironment = platform.ProdEnvironment

// Secret-holding GitHub resources and the properties that hold the value.
var actionsSecretTypes = map[string][]string{
	typeEnvironmentSecret:                                              secretValueKeys,
	"github:index/actionsSecret:ActionsSecret":                         secretValueKeys,
	"github:index/actionsOrganizationSecret:ActionsOrganizationSecret": secretValueKeys,
	"github:index/dependabotSecret:DependabotSecret":                   secretValueKeys,
}

var secretValueKeys = []string{"value", "valueEncrypted", "plaintextValue", "encryptedValue"}

// GitHub resources of the ruleset-bypass rule: a deploy key that may push
// (deploy keys bypass the gitops ruleset) and the one kind of secret whose
// readers a branch policy limits.
const (
	typeDeployKey         = "github:index/repositoryDeployKey:RepositoryDeployKey"
	typeEnvironmentSecret = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
)

// Helm chart resources whose version must be exact.
var helmTypes = []string{"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}

var (
	// One repository, one environment: no wildcard anywhere in the subject.
	githubSubject = regexp.MustCompile(`^repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:environment:[^*?\s:]+$`)
)

const githubOIDC = "token.actions.githubusercontent.com"

// New returns the pack for one stack: every rule mandatory, except the
// cluster TLS rule in a stack marked localLab, where it is advisory.
func New(s Stack) (Pack, error) {
	tlsLevel := policyx.EnforcementLevelMandatory
	if s.LocalLab {
		tlsLevel = policyx.EnforcementLevelAdvisory
	}
	rules := []policyx.Policy{
		rule("cluster-secret-verifies-tls", "An Argo CD cluster Secret keeps TLS verification on (advisory in a localLab stack).",
			tlsLevel, clusterTLS),
		rule("prod-cluster-syncs-manually", "A prod cluster Secret is labelled for manual sync, so no automated ApplicationSet selects it.",
			policyx.EnforcementLevelMandatory, prodClusterManual),
		rule("applicationset-automated-excludes-prod", "An ApplicationSet with automated sync selects clusters with a selector that excludes prod.",
			policyx.EnforcementLevelMandatory, appSetExcludesProd),
		rule("application-automated-not-prod", "An Application outside the ApplicationSets syncs automatically only with a non-prod env label.",
			policyx.EnforcementLevelMandatory, applicationAutomated),
		rule("applicationset-own-project", "An ApplicationSet's Applications use a named project: never default, never templated.",
			policyx.EnforcementLevelMandatory, appSetProject),
		rule("ecr-immutable-and-scanned", "The ECR repository has immutable tags and scans on push.",
			policyx.EnforcementLevelMandatory, ecrImmutable),
		rule("ecr-production-data-protected", "In a stack marked productionData, the ECR repository is protected and not force-deleted.",
			policyx.EnforcementLevelMandatory, ecrProtected(s)),
		rule("github-repo-private", "GitHub repos are private unless the stack sets publicRepos.",
			policyx.EnforcementLevelMandatory, repoPrivate(s)),
		rule("actions-secret-is-pulumi-secret", "Every GitHub Actions secret's value is a Pulumi secret, so it is encrypted in state and hidden in output.",
			policyx.EnforcementLevelMandatory, actionsSecretIsSecret),
		rule("helm-chart-version-pinned", "A Helm release pins an exact chart version.",
			policyx.EnforcementLevelMandatory, helmPinned),
		rule("ci-role-one-repo-one-environment", "A role GitHub Actions assumes trusts the jobs of one GitHub environment of one repository, by exact subject.",
			policyx.EnforcementLevelMandatory, ciRoleScoped),
		policyx.NewStackValidationPolicy("ruleset-bypass-key-in-environment", policyx.StackValidationPolicyArgs{
			Description:      "The private half of a deploy key that may push (deploy keys bypass rulesets) is only ever an environment's secret, never one every branch's workflows read.",
			EnforcementLevel: policyx.EnforcementLevelMandatory,
			ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
				for _, v := range bypassKeyOutsideEnvironment(args.Resources) {
					args.Manager.ReportViolation(v.message, v.urn)
				}
				return nil
			},
		}),
		rule("app-namespace-restricted", "A namespace Argo CD deploys an environment's app into enforces the restricted Pod Security level.",
			policyx.EnforcementLevelMandatory, appNamespaceRestricted),
	}
	return policyx.NewPolicyPack(PackName, semver.MustParse(PackVersion), policyx.EnforcementLevelMandatory, rules)
}

// check looks at one resource and returns what is wrong with it; an empty
// result means compliant (or not its business).
type check func(r policyx.AnalyzerResource) []string

func rule(name, description string, level policyx.EnforcementLevel, c check) policyx.Policy {
	return policyx.NewResourceValidationPolicy(name, policyx.ResourceValidationPolicyArgs{
		Description:      description,
		EnforcementLevel: level,
		ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
			for _, msg := range c(args.Resource) {
				args.Manager.ReportViolation(msg, "")
			}
			// Objects a chart creates from its values (argo-cd's
			// extraObjects) answer to the same rules as the program's own.
			for i, obj := range extraObjects(args.Resource) {
				for _, msg := range c(obj) {
					args.Manager.ReportViolation(fmt.Sprintf("values.extraObjects[%d] (%s %s): %s", i, obj.Type, obj.Name, msg), "")
				}
			}
			return nil
		},
	})
}

// extraObjects returns the Kubernetes objects a Helm release's values ask
// the chart to create verbatim, typed as the engine would type them.
func extraObjects(r policyx.AnalyzerResource) []policyx.AnalyzerResource {
	if !slices.Contains(helmTypes, r.Type) {
		return nil
	}
	objs, ok := get(r.Properties, "values", "extraObjects")
	if !ok || !objs.IsArray() {
		return nil
	}
	var out []policyx.AnalyzerResource
	for _, o := range objs.AsArray().AsSlice() {
		if !o.IsMap() {
			continue
		}
		apiVersion, _ := getString(o.AsMap(), "apiVersion")
		kind, _ := getString(o.AsMap(), "kind")
		name, _ := getString(o.AsMap(), "metadata", "name")
		group := apiVersion
		if !strings.Contains(apiVersion, "/") {
			group = "core/" + apiVersion
		}
		out = append(out, policyx.AnalyzerResource{
			Type: "kubernetes:" + group + ":" + kind, Name: name, URN: r.URN, Properties: o.AsMap(),
		})
	}
	return out
}

// get walks maps; ok is false when a step is missing, not a map, or
// computed (unknown in a preview: the rule cannot judge it yet).
func get(m property.Map, keys ...string) (property.Value, bool) {
	v := property.New(m)
	for _, k := range keys {
		if !v.IsMap() {
			return property.Value{}, false
		}
		var ok bool
		if v, ok = v.AsMap().GetOk(k); !ok || v.IsComputed() {
			return property.Value{}, false
		}
	}
	return v, true
}

func getString(m property.Map, keys ...string) (string, bool) {
	v, ok := get(m, keys...)
	if !ok || !v.IsString() {
		return "", false
	}
	return v.AsString(), true
}

func label(r policyx.AnalyzerResource, key string) string {
	s, _ := getString(r.Properties, "metadata", "labels", key)
	return s
}

func isClusterSecret(r policyx.AnalyzerResource) bool {
	return r.Type == typeSecret && label(r, labelSecretType) == "cluster"
}

func clusterTLS(r policyx.AnalyzerResource) []string {
	if !isClusterSecret(r) {
		return nil
	}
	raw, ok := getString(r.Properties, "stringData", "config")
	if !ok {
		b64, found := getString(r.Properties, "data", "config")
		if !found {
			return nil // unknown until the token exists; checked again at update
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return []string{fmt.Sprintf("data.config is not base64: %v", err)}
		}
		raw = string(b)
	}
	var cfg struct {
		TLSClientConfig struct {
			Insecure bool `json:"insecure"`
		} `json:"tlsClientConfig"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return []string{fmt.Sprintf("config is not Argo CD's cluster JSON: %v", err)}
	}
	if cfg.TLSClientConfig.Insecure {
		return []string{fmt.Sprintf("cluster %q sets tlsClientConfig.insecure: true; give Argo CD the API server's CA (clusterInsecure: false)", label(r, labelEnv))}
	}
	return nil
}

func prodClusterManual(r policyx.AnalyzerResource) []string {
	if !isClusterSecret(r) {
		return nil
	}
	env := label(r, labelEnv)
	if env == ProdEnvironment && label(r, labelSync) != platform.SyncManual {
		return []string{fmt.Sprintf("cluster %q is labelled %s=%q; prod waits for a person: set syncMode: manual", env, labelSync, label(r, labelSync))}
	}
	return nil
}

func appSetExcludesProd(r policyx.AnalyzerResource) []string {
	if r.Type != typeApplicationSet {
		return nil
	}
	automated, ok := get(r.Properties, "spec", "template", "spec", "syncPolicy", "automated")
	if !ok || automated.IsNull() {
		return nil
	}
	gens, ok := get(r.Properties, "spec", "generators")
	if !ok || !gens.IsArray() {
		return []string{"automated sync without a cluster generator: nothing shows prod is excluded"}
	}
	var out []string
	for i, g := range gens.AsArray().AsSlice() {
		if !g.IsMap() {
			continue
		}
		sel, ok := get(g.AsMap(), "clusters", "selector")
		if !ok || !sel.IsMap() {
			out = append(out, fmt.Sprintf("generator %d: automated sync needs a clusters generator with a selector that excludes prod", i))
			continue
		}
		if !selectorExcludesProd(sel.AsMap()) {
			out = append(out, fmt.Sprintf("generator %d: the selector can match a prod cluster; add matchExpressions {key: %s, operator: NotIn, values: [prod]}", i, labelEnv))
		}
	}
	return out
}

// selectorExcludesProd is true when no cluster labelled env=prod can match:
// the env label pinned to another value, an In list without prod, or a
// NotIn list with prod.
func selectorExcludesProd(sel property.Map) bool {
	if env, ok := getString(sel, "matchLabels", labelEnv); ok {
		return env != ProdEnvironment
	}
	exprs, ok := get(sel, "matchExpressions")
	if !ok || !exprs.IsArray() {
		return false
	}
	for _, e := range exprs.AsArray().AsSlice() {
		if !e.IsMap() {
			continue
		}
		key, _ := getString(e.AsMap(), "key")
		op, _ := getString(e.AsMap(), "operator")
		if key != labelEnv {
			continue
		}
		values := stringList(e.AsMap(), "values")
		switch op {
		case "In":
			if !slices.Contains(values, ProdEnvironment) {
				return true
			}
		case "NotIn":
			if slices.Contains(values, ProdEnvironment) {
				return true
			}
		}
	}
	return false
}

func stringList(m property.Map, key string) []string {
	v, ok := get(m, key)
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.AsArray().AsSlice() {
		if e.IsString() {
			out = append(out, e.AsString())
		}
	}
	return out
}

func appSetProject(r policyx.AnalyzerResource) []string {
	if r.Type != typeApplicationSet {
		return nil
	}
	if _, templated := get(r.Properties, "spec", "templatePatch"); templated {
		return []string{"spec.templatePatch can change the project per Application; keep the project in the template"}
	}
	project, ok := get(r.Properties, "spec", "template", "spec", "project")
	if !ok {
		if _, known := get(r.Properties, "spec", "template", "spec"); known {
			return []string{"the template names no project (Argo CD falls back to default)"}
		}
		return nil
	}
	if !project.IsString() {
		return []string{"the template's project is not a string"}
	}
	switch p := project.AsString(); {
	case p == "" || p == "default":
		return []string{fmt.Sprintf("project %q: use the platform's own AppProject, never default", p)}
	case strings.Contains(p, "{{"):
		return []string{fmt.Sprintf("project %q is templated: a cluster's labels would choose its permissions", p)}
	}
	return nil
}

func ecrImmutable(r policyx.AnalyzerResource) []string {
	if r.Type != typeECR {
		return nil
	}
	var out []string
	if m, _ := getString(r.Properties, "imageTagMutability"); m != "IMMUTABLE" {
		out = append(out, fmt.Sprintf("imageTagMutability is %q: a pushed sha- tag must never change under a running environment (IMMUTABLE)", m))
	}
	if scan, ok := get(r.Properties, "imageScanningConfiguration", "scanOnPush"); !ok || !scan.IsBool() || !scan.AsBool() {
		out = append(out, "imageScanningConfiguration.scanOnPush is not true")
	}
	return out
}

func ecrProtected(s Stack) check {
	return func(r policyx.AnalyzerResource) []string {
		if r.Type != typeECR || !s.ProductionData {
			return nil
		}
		var out []string
		if !r.Options.Protect {
			out = append(out, "stack holds production data but the repository is not protected: set registryProtect: true")
		}
		if fd, ok := get(r.Properties, "forceDelete"); ok && fd.IsBool() && fd.AsBool() {
			out = append(out, "stack holds production data but forceDelete is on: a destroy would delete the images; set registryForceDelete: false")
		}
		return out
	}
}

func repoPrivate(s Stack) check {
	return func(r policyx.AnalyzerResource) []string {
		if r.Type != typeRepo || s.PublicRepos {
			return nil
		}
		if v, _ := getString(r.Properties, "visibility"); v != "private" {
			if priv, ok := get(r.Properties, "private"); v == "" && ok && priv.IsBool() && priv.AsBool() {
				return nil
			}
			return []string{fmt.Sprintf("visibility is %q: repos are private unless the stack sets publicRepos: true", v)}
		}
		return nil
	}
}

func actionsSecretIsSecret(r policyx.AnalyzerResource) []string {
	var out []string
	for _, key := range actionsSecretTypes[r.Type] {
		v, ok := r.Properties.GetOk(key)
		if ok && !v.IsNull() && !v.Secret() {
			out = append(out, fmt.Sprintf("%s is not a Pulumi secret: wrap it with pulumi.ToSecret (it would sit in the state in plain text)", key))
		}
	}
	return out
}

func helmPinned(r policyx.AnalyzerResource) []string {
	if !slices.Contains(helmTypes, r.Type) {
		return nil
	}
	v, ok := get(r.Properties, "version")
	if ok && !v.IsString() {
		return []string{"version is not a string"}
	}
	if v, _ := getString(r.Properties, "version"); !platform.ExactSemver.MatchString(v) {
		return []string{fmt.Sprintf("chart version %q is not exact: a range or none lets a later update install another chart", v)}
	}
	return nil
}

// trustPolicy is the part of an IAM trust policy the CI rule reads, decoded
// (so an escaped name cannot hide GitHub's issuer from the rule).
type trustPolicy struct {
	Statement []struct {
		Effect    string
		Principal any
		Action    any
		Condition map[string]map[string]json.RawMessage
	}
}

func ciRoleScoped(r policyx.AnalyzerResource) []string {
	if r.Type != typeRole {
		return nil
	}
	raw, ok := getString(r.Properties, "assumeRolePolicy")
	if !ok {
		return nil // unknown until the OIDC provider exists; checked again at update
	}
	var p trustPolicy
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return []string{fmt.Sprintf("assumeRolePolicy is not JSON: %v", err)}
	}
	var out []string
	for i, st := range p.Statement {
		var keys []string
		for _, conds := range st.Condition {
			for k := range conds {
				keys = append(keys, k)
			}
		}
		if st.Effect != "Allow" || !strings.Contains(fmt.Sprint(st.Principal, st.Action, keys), githubOIDC) {
			continue // not a statement GitHub Actions assumes the role by
		}
		for op, conds := range st.Condition {
			if _, ok := conds[githubOIDC+":sub"]; ok && op != "StringEquals" {
				out = append(out, fmt.Sprintf("statement %d: the subject is matched with %s; use StringEquals on one environment of one repo", i, op))
			}
		}
		subjects, err := oneOrMany(st.Condition["StringEquals"][githubOIDC+":sub"])
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("statement %d: %s:sub: %v", i, githubOIDC, err))
		case len(subjects) != 1:
			out = append(out, fmt.Sprintf("statement %d: StringEquals %s:sub names %d subjects; trust exactly one environment of one repository", i, githubOIDC, len(subjects)))
		case !githubSubject.MatchString(subjects[0]):
			out = append(out, fmt.Sprintf("statement %d: subject %q is not one environment of one repository (repo:<owner>/<repo>:environment:<name>; "+
				"a branch subject lets every job on that branch in, an environment only the jobs its branch policy and reviewers admit)", i, subjects[0]))
		}
	}
	return out
}

// applicationAutomated keeps automated sync out of prod for Applications
// made outside the platform's ApplicationSets: one with automated sync must
// say, by its env label, that it is not prod's.
func applicationAutomated(r policyx.AnalyzerResource) []string {
	if r.Type != typeApplication {
		return nil
	}
	automated, ok := get(r.Properties, "spec", "syncPolicy", "automated")
	if !ok || automated.IsNull() {
		return nil
	}
	switch env := label(r, labelEnv); env {
	case "":
		return []string{fmt.Sprintf("an Application with automated sync must carry the %s label of a non-prod environment", labelEnv)}
	case ProdEnvironment:
		return []string{"an Application for prod syncs automatically; prod waits for a person"}
	}
	return nil
}

// oneOrMany reads an IAM condition value: a string or a list of strings.
func oneOrMany(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("expected a string or a list of strings")
	}
	return many, nil
}

// appNamespaceRestricted: an environment's app namespace (labelled with
// its environment) enforces restricted Pod Security, so that no commit to
// the gitops repo runs a privileged Pod or mounts the node's filesystem.
func appNamespaceRestricted(r policyx.AnalyzerResource) []string {
	if r.Type != typeNamespace || label(r, labelEnv) == "" {
		return nil
	}
	if level := label(r, "pod-security.kubernetes.io/enforce"); level != "restricted" {
		return []string{fmt.Sprintf("namespace for environment %q enforces Pod Security level %q; an app namespace enforces \"restricted\"", label(r, labelEnv), level)}
	}
	return nil
}

type stackViolation struct{ urn, message string }

// bypassKeyOutsideEnvironment finds the GitHub secrets that hold (depend
// on the key material of) a deploy key that may push, and are not an
// environment's: a repository's, organization's or Dependabot secret is read
// by any workflow on any branch, so anyone who can push a branch could push
// past the ruleset with it.
func bypassKeyOutsideEnvironment(resources []policyx.AnalyzerResource) []stackViolation {
	keyMaterial := map[string]string{} // a URN a write key depends on → that key's name
	for _, r := range resources {
		if r.Type != typeDeployKey {
			continue
		}
		if ro, ok := get(r.Properties, "readOnly"); !ok || !ro.IsBool() || ro.AsBool() {
			continue // read-only (the provider's default): bypasses nothing
		}
		keyMaterial[r.URN] = r.Name
		for _, d := range r.Dependencies {
			keyMaterial[d] = r.Name
		}
	}
	var out []stackViolation
	for _, r := range resources {
		if _, holdsSecret := actionsSecretTypes[r.Type]; !holdsSecret || r.Type == typeEnvironmentSecret {
			continue
		}
		for _, d := range r.Dependencies {
			if key, ok := keyMaterial[d]; ok {
				out = append(out, stackViolation{urn: r.URN, message: fmt.Sprintf(
					"holds the write deploy key %s, which bypasses the repository's ruleset, where every branch's workflows can read it; "+
						"make it a secret of a GitHub environment that only main may deploy to (github.ActionsEnvironmentSecret)", key)})
				break
			}
		}
	}
	return out
}
