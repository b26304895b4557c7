package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	"github.com/argoproj/argo-cd/v3/applicationset/generators"
	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1alpha1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	log "github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	argocdNamespace = "argocd"
	appNamespace    = "gitops-monitor"
	gitopsRepo      = "tech-seminar-gitops"
	manager         = "system:serviceaccount:kube-system:argocd-manager"
)

// TestTier runs the tier in order: what later steps read, earlier ones
// apply.
func TestTier(t *testing.T) {
	t.Run("every rendered object is accepted", testRenderedObjects)
	t.Run("every overlay is accepted", testOverlays)
	t.Run("a broken object is rejected", testBrokenObjects)
	t.Run("Argo CD generates the Applications", testGenerator)
	t.Run("argocd-manager can do what a sync needs and no more", testManagerRBAC)
	t.Run("the pull-secret refresher may update the pull secret and nothing more", testRefresherRBAC)
}

// testRenderedObjects applies every Kubernetes object of every stack's
// render, server-side, as the platform's field manager. All three stacks
// go to the one API server: the hub's objects and each environment's own.
func testRenderedObjects(t *testing.T) {
	kinds := map[string]int{}
	for _, s := range stacks {
		objs, order, err := renderedObjects(s)
		require.NoError(t, err)
		require.NotEmpty(t, order, s)
		for _, f := range order {
			o := objs[f]
			if err := apply(o); err != nil {
				t.Errorf("%s: %s rejected: %v", s, f, err)
				continue
			}
			kinds[o.GetKind()]++
		}
	}
	for _, k := range []string{"ApplicationSet", "AppProject", "Secret", "ConfigMap", "CronJob", "Job", "Namespace",
		"PrometheusRule", "ServiceAccount", "Role", "RoleBinding"} {
		assert.Positive(t, kinds[k], "an accepted %s", k)
	}
	t.Logf("accepted: %v", kinds)
}

// gitopsTree gathers the gitops repo as the stacks commit it: the hub
// writes the base and its overlay, each environment its own overlay.
func gitopsTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), gitopsRepo)
	for _, s := range stacks {
		src := filepath.Join(renderDir, s, "repos", gitopsRepo)
		err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
		})
		require.NoError(t, err, s)
	}
	return dir
}

// testOverlays builds every environment's overlay with the pinned kustomize
// and applies what it yields: Deployment, Service and ServiceMonitor.
func testOverlays(t *testing.T) {
	tree := gitopsTree(t)
	for _, env := range stacks {
		out, err := exec.Command(kustomize, "build", filepath.Join(tree, "manifests", env)).CombinedOutput()
		require.NoError(t, err, "kustomize build %s: %s", env, out)
		objs, err := decodeObjects(out)
		require.NoError(t, err)
		var kinds []string
		for _, o := range objs {
			kinds = append(kinds, o.GetKind())
			assert.NoError(t, apply(o), "%s: %s %s", env, o.GetKind(), o.GetName())
		}
		sort.Strings(kinds)
		assert.Equal(t, []string{"Deployment", "Service", "ServiceMonitor"}, kinds, env)
	}
}

// renderedAppSet reads one of the hub's ApplicationSets from the render.
func renderedAppSet(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	objs, err := readObjects(filepath.Join(renderDir, "dev", "kubernetes", "applicationset-"+name+".yaml"))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	return objs[0]
}

// testBrokenObjects proves the tier can fail: the API server rejects an
// ApplicationSet whose generators have the wrong type, and one without the
// template its schema requires, with its schema error.
func testBrokenObjects(t *testing.T) {
	wrongType := renderedAppSet(t, "gitops-monitor-auto").DeepCopy()
	wrongType.SetName("broken-wrong-type")
	require.NoError(t, unstructured.SetNestedField(wrongType.Object, "clusters", "spec", "generators"))
	err := apply(wrongType)
	require.Error(t, err)
	assert.True(t, rejectedByServer(err, ".spec.generators: expected list"), "the server's schema error: %v", err)

	missing := renderedAppSet(t, "gitops-monitor-manual").DeepCopy()
	missing.SetName("broken-no-template")
	unstructured.RemoveNestedField(missing.Object, "spec", "template")
	err = apply(missing)
	require.Error(t, err)
	assert.True(t, rejectedByServer(err, "spec.template"), "the server's schema error: %v", err)
}

func decodeAppSet(t *testing.T, o *unstructured.Unstructured) argov1alpha1.ApplicationSet {
	t.Helper()
	b, err := json.Marshal(o.Object)
	require.NoError(t, err)
	var as argov1alpha1.ApplicationSet
	require.NoError(t, json.Unmarshal(b, &as))
	return as
}

// generate runs Argo CD's cluster generator and template renderer over one
// ApplicationSet, reading the cluster Secrets from the API server as the
// ApplicationSet controller does.
func generate(t *testing.T, c client.Client, as argov1alpha1.ApplicationSet) []argov1alpha1.Application {
	t.Helper()
	gens := map[string]generators.Generator{
		"Clusters": generators.NewClusterGenerator(context.Background(), c, kube, argocdNamespace),
	}
	apps, reason, err := template.GenerateApplications(log.NewEntry(log.StandardLogger()), as, gens, &utils.Render{}, c)
	require.NoError(t, err, "reason %s", reason)
	return apps
}

// testGenerator gives both rendered ApplicationSets to Argo CD's own
// generator, over the cluster Secrets of all three stacks in the API
// server, then applies the Applications it generates.
func testGenerator(t *testing.T) {
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, argov1alpha1.AddToScheme(scheme))
	c, err := client.New(srv.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)

	servers := map[string]string{"dev": "https://kubernetes.default.svc", "staging": "https://192.168.49.3:8443", "prod": "https://192.168.49.4:8443"}
	apps := map[string]argov1alpha1.Application{}
	for name, wantEnvs := range map[string][]string{"gitops-monitor-auto": {"dev", "staging"}, "gitops-monitor-manual": {"prod"}} {
		as := decodeAppSet(t, renderedAppSet(t, name))
		var got []string
		for _, app := range generate(t, c, as) {
			got = append(got, app.Name)
			apps[app.Name] = app
			for k, v := range as.Spec.Template.Annotations {
				assert.Equal(t, v, app.Annotations[k], "%s: annotation %s carried over", app.Name, k)
			}
		}
		sort.Strings(got)
		var want []string
		for _, e := range wantEnvs {
			want = append(want, "gitops-monitor-"+e)
		}
		sort.Strings(want)
		assert.Equal(t, want, got, "%s generates exactly these", name)
	}
	require.Len(t, apps, 3)
	for _, env := range stacks {
		app, ok := apps["gitops-monitor-"+env]
		require.True(t, ok, env)
		assert.Equal(t, servers[env], app.Spec.Destination.Server, env)
		assert.Equal(t, appNamespace, app.Spec.Destination.Namespace, env)
		require.NotNil(t, app.Spec.Source, env)
		assert.Equal(t, "manifests/"+env, app.Spec.Source.Path, env)
		assert.Equal(t, "gitops-monitor", app.Spec.Project, env)
		require.NotNil(t, app.Spec.SyncPolicy, env)
		if env == "prod" {
			assert.Nil(t, app.Spec.SyncPolicy.Automated, "prod waits for a person")
		} else {
			require.NotNil(t, app.Spec.SyncPolicy.Automated, env)
			assert.True(t, app.Spec.SyncPolicy.Automated.Prune, "%s prunes", env)
			assert.True(t, app.Spec.SyncPolicy.Automated.SelfHeal, "%s self-heals", env)
		}
		// The tier's hub has a Slack token, so every Application subscribes.
		assert.NotEmpty(t, subscriptions(app), "%s: Slack subscriptions", env)
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&app)
		require.NoError(t, err)
		obj := &unstructured.Unstructured{Object: u}
		obj.SetAPIVersion("argoproj.io/v1alpha1")
		obj.SetKind("Application")
		obj.SetNamespace(argocdNamespace)
		unstructured.RemoveNestedField(obj.Object, "status")
		unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
		assert.NoError(t, apply(obj), "the generated %s is accepted", app.Name)
	}
}

func subscriptions(app argov1alpha1.Application) []string {
	var out []string
	for k := range app.Annotations {
		if strings.HasPrefix(k, "notifications.argoproj.io/subscribe.") {
			out = append(out, k)
		}
	}
	return out
}

// can asks the API server whether argocd-manager may do one thing.
func can(t *testing.T, verb, group, resource, namespace, name string) bool {
	t.Helper()
	return canAs(t, manager, "kube-system", verb, group, resource, namespace, name)
}

// canAs asks whether a ServiceAccount (user, of saNamespace) may do one thing.
func canAs(t *testing.T, user, saNamespace, verb, group, resource, namespace, name string) bool {
	t.Helper()
	review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name,
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

type access struct{ verb, group, resource, namespace, name string }

func (a access) String() string {
	return fmt.Sprintf("%s %s.%s in %q %s", a.verb, a.resource, a.group, a.namespace, a.name)
}

// needed is a sample of what a sync of the app's manifests does in its
// namespace; forbidden is a sample of what lies outside it. The cluster is
// registered with clusterResources false and Argo CD respects RBAC, so
// nothing cluster-scoped is needed, not even reading Namespaces (the
// program creates the app's namespace; no CreateNamespace=true).
var (
	needed = []access{
		{"create", "apps", "deployments", appNamespace, ""}, {"patch", "apps", "deployments", appNamespace, "gitops-monitor"},
		{"delete", "apps", "deployments", appNamespace, "gitops-monitor"}, {"create", "", "services", appNamespace, ""},
		{"create", "monitoring.coreos.com", "servicemonitors", appNamespace, ""}, {"list", "", "pods", appNamespace, ""},
		{"watch", "apps", "replicasets", appNamespace, ""},
	}
	forbidden = []access{
		{"get", "", "secrets", "kube-system", ""}, {"list", "", "secrets", argocdNamespace, ""}, {"get", "", "secrets", "monitoring", "grafana-admin"},
		{"create", "apps", "deployments", "default", ""}, {"create", "", "namespaces", "", ""}, {"patch", "", "namespaces", "", "kube-system"},
		{"get", "", "namespaces", "", appNamespace}, {"list", "", "namespaces", "", ""}, {"patch", "", "namespaces", "", appNamespace},
		{"list", "", "persistentvolumes", "", ""}, {"list", "", "nodes", "", ""},
		{"create", "rbac.authorization.k8s.io", "roles", appNamespace, ""}, {"create", "rbac.authorization.k8s.io", "rolebindings", appNamespace, ""},
		{"create", "", "pods/exec", appNamespace, ""}, {"create", "", "resourcequotas", appNamespace, ""},
		{"delete", "", "namespaces", "", "kube-system"}, {"create", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ""}, {"create", "apiextensions.k8s.io", "customresourcedefinitions", "", ""},
		{"create", "", "nodes", "", ""}, {"escalate", "rbac.authorization.k8s.io", "roles", "kube-system", ""},
	}
)

// rbacProblems lists what argocd-manager may not do but needs, and what it
// may do but must not.
func rbacProblems(t *testing.T) []string {
	var out []string
	for _, a := range needed {
		if !can(t, a.verb, a.group, a.resource, a.namespace, a.name) {
			out = append(out, "cannot "+a.String())
		}
	}
	for _, a := range forbidden {
		if can(t, a.verb, a.group, a.resource, a.namespace, a.name) {
			out = append(out, "can "+a.String())
		}
	}
	return out
}

// testManagerRBAC asks the real API server what the argocd-manager identity
// every environment's stack creates may do (applied with the rendered
// objects above), then proves the check fails when a binding widens it to
// cluster-admin.
func testManagerRBAC(t *testing.T) {
	assert.Empty(t, rbacProblems(t))

	widened := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-manager-widened"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "argocd-manager", Namespace: "kube-system"}},
	}
	_, err := kube.RbacV1().ClusterRoleBindings().Create(context.Background(), widened, metav1.CreateOptions{})
	require.NoError(t, err)
	defer func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), widened.Name, metav1.DeleteOptions{})
	}()
	problems := rbacProblems(t)
	assert.Len(t, problems, len(forbidden), "with cluster-admin, every forbidden access is reported: %v", problems)
}

// testRefresherRBAC asks the API server what the ECR pull-secret refresher,
// whose IAM key lives in the ecr-pull namespace, may do in the app's: update
// the one pull secret, and nothing else (not even create a Secret).
func testRefresherRBAC(t *testing.T) {
	const refresher = "system:serviceaccount:ecr-pull:ecr-pull-refresh"
	for _, a := range []access{{"get", "", "secrets", appNamespace, "ecr-pull"}, {"patch", "", "secrets", appNamespace, "ecr-pull"}} {
		assert.True(t, canAs(t, refresher, "ecr-pull", a.verb, a.group, a.resource, a.namespace, a.name), "may %s", a)
	}
	for _, a := range []access{
		{"create", "", "secrets", appNamespace, ""}, {"get", "", "secrets", appNamespace, "gitops-monitor-token"},
		{"list", "", "secrets", appNamespace, ""}, {"patch", "apps", "deployments", appNamespace, "gitops-monitor"},
		{"get", "", "secrets", "kube-system", "argocd-manager-token"},
	} {
		assert.False(t, canAs(t, refresher, "ecr-pull", a.verb, a.group, a.resource, a.namespace, a.name), "may not %s", a)
	}
}
