package live

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

const appNamespace = "gitops-monitor"

var applications = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// application reads one Application from the hub.
func application(name string) (*unstructured.Unstructured, error) {
	return envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).Get(context.Background(), name, metav1.GetOptions{})
}

// appState is an Application's sync and health status and its conditions.
func appState(name string) (sync, health, conditions string) {
	app, err := application(name)
	if err != nil {
		return "", "", err.Error()
	}
	sync, _, _ = unstructured.NestedString(app.Object, "status", "sync", "status")
	health, _, _ = unstructured.NestedString(app.Object, "status", "health", "status")
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		parts = append(parts, fmt.Sprintf("%v: %v", m["type"], m["message"]))
	}
	return sync, health, strings.Join(parts, "; ")
}

// eventually waits for cond and, when it never holds, fails with what
// was last seen and the Argo CD components' logs.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s: not after %s; last seen: %s\nSlack receiver: %q\n%s", what, timeout, last, slack.all(), argo.logs())
}

// workloads describes the app's ReplicaSets, Pods and the namespace's
// warning events in an environment, for a failure message.
func workloads(env string) string {
	ctx := context.Background()
	var b strings.Builder
	if rss, err := envs[env].kube.AppsV1().ReplicaSets(appNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, rs := range rss.Items {
			fmt.Fprintf(&b, "rs %s %d/%d ready; ", rs.Name, rs.Status.ReadyReplicas, rs.Status.Replicas)
		}
	}
	if pods, err := envs[env].kube.CoreV1().Pods(appNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			fmt.Fprintf(&b, "pod %s %s on %q; ", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}
	if events, err := envs[env].kube.CoreV1().Events(appNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range events.Items {
			if e.Type == "Warning" {
				fmt.Fprintf(&b, "event %s %s: %s; ", e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}

// readyReplicas is the ready replicas of the app's Deployment in an
// environment's cluster, -1 when there is no Deployment.
func readyReplicas(env string) int {
	d, err := envs[env].kube.AppsV1().Deployments(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
	if err != nil {
		return -1
	}
	return int(d.Status.ReadyReplicas)
}

// TestDelivery walks the platform's delivery as the seminar shows it,
// with the real controllers: each step asserts what a regression of the
// program would break.
func TestDelivery(t *testing.T) {
	// 1 and 2: the ApplicationSet controller generates exactly the three
	// Applications from the cluster Secrets' labels, and the controller
	// builds its cache of every cluster with argocd-manager's identity
	// (no Unknown status, no ComparisonError).
	if !t.Run("three Applications, every cluster reached", func(t *testing.T) {
		eventually(t, 3*time.Minute, "gitops-monitor-dev, -staging and -prod compared", func() (bool, string) {
			list, err := envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			var names, states []string
			ok := true
			for _, app := range list.Items {
				names = append(names, app.GetName())
				sync, _, conds := appState(app.GetName())
				states = append(states, app.GetName()+"="+sync+" ["+conds+"]")
				ok = ok && (sync == "Synced" || sync == "OutOfSync") && !strings.Contains(conds, "Error")
			}
			sort.Strings(names)
			return ok && strings.Join(names, ",") == "gitops-monitor-dev,gitops-monitor-prod,gitops-monitor-staging", strings.Join(states, "; ")
		})
	}) {
		return // each step builds on the one before
	}

	// 3: dev and staging sync on their own, with the replicas their
	// overlays ask for, Synced and Healthy; Slack hears of each once.
	if !t.Run("dev and staging deploy on their own", func(t *testing.T) {
		for env, replicas := range map[string]int{"dev": 1, "staging": 2} {
			eventually(t, 3*time.Minute, env+" Synced and Healthy", func() (bool, string) {
				sync, health, conds := appState("gitops-monitor-" + env)
				r := readyReplicas(env)
				return sync == "Synced" && health == "Healthy" && r == replicas,
					fmt.Sprintf("%s/%s, %d ready (want %d) [%s]; %s", sync, health, r, replicas, conds, workloads(env))
			})
		}
		for _, env := range []string{"dev", "staging"} {
			eventually(t, time.Minute, "Slack hears gitops-monitor-"+env+" deployed", func() (bool, string) {
				return slack.count("gitops-monitor-"+env, "Synced and Healthy") == 1, fmt.Sprint(slack.all())
			})
		}
	}) {
		return // each step builds on the one before
	}

	// 4: prod waits: OutOfSync, nothing created, Slack told once, naming
	// who may sync; argocd-server refuses a deployer's sync of prod and
	// takes a prod deployer's, which deploys its three replicas through
	// argocd-manager.
	if !t.Run("prod waits for a person", func(t *testing.T) {
		eventually(t, time.Minute, "Slack hears prod waits", func() (bool, string) {
			return slack.count("gitops-monitor-prod", "waits for a person") == 1, fmt.Sprint(slack.all())
		})
		assert.Equal(t, 1, slack.count("gitops-monitor-prod", "Who may sync it: gitops-seminar:sre."), "the message names the prod deployers")
		sync, _, conds := appState("gitops-monitor-prod")
		assert.Equal(t, "OutOfSync", sync, conds)
		assert.Equal(t, -1, readyReplicas("prod"), "nothing deployed to prod before a person syncs")

		// People sync through argocd-server, which applies the program's
		// RBAC: a deployer may sync staging, not prod; a prod deployer may.
		developer, err := apiKey("developer")
		require.NoError(t, err)
		status, body, err := syncApp(developer, "gitops-monitor-prod")
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, status, "a deployer is refused prod: %s", body)
		assert.Equal(t, -1, readyReplicas("prod"), "the refused sync deployed nothing")
		status, body, err = syncApp(developer, "gitops-monitor-staging")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "a deployer syncs staging: %s", body)
		releaseManager, err := apiKey("release-manager")
		require.NoError(t, err)
		status, body, err = syncApp(releaseManager, "gitops-monitor-prod")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "a prod deployer syncs prod: %s", body)
		eventually(t, 3*time.Minute, "prod Synced and Healthy with 3 replicas", func() (bool, string) {
			sync, health, conds := appState("gitops-monitor-prod")
			r := readyReplicas("prod")
			return sync == "Synced" && health == "Healthy" && r == 3, fmt.Sprintf("%s/%s, %d ready [%s]", sync, health, r, conds)
		})
		assert.Equal(t, 1, slack.count("gitops-monitor-prod", "waits for a person"), "told once per revision")
	}) {
		return // each step builds on the one before
	}

	// 5: the CI's tag bump, announced by the signed webhook, reaches dev
	// and staging in seconds; prod waits again and Slack says so again.
	var previous string
	if !t.Run("a new tag reaches dev and staging through the webhook", func(t *testing.T) {
		previous = deployedImage(t, "dev")
		before, err := git.head()
		require.NoError(t, err)
		status, err := postPush(before, before, nil, "not-the-secret")
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadRequest, status, "a push signed with another secret is refused")

		after := bumpImage(t, "sha-live002")
		start := time.Now()
		status, err = postPush(before, after, []string{"manifests/dev/kustomization.yaml", "manifests/staging/kustomization.yaml", "manifests/prod/kustomization.yaml"}, webhookSecret)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "argocd-server takes the signed push")
		waitImage(t, "dev", ":sha-live002", 1)
		t.Logf("push → dev Synced and Healthy on the new tag: %s (Argo CD polls every 180 s without the webhook)", time.Since(start).Round(100*time.Millisecond))
		waitImage(t, "staging", ":sha-live002", 2)
		eventually(t, time.Minute, "Slack hears prod waits for the new revision", func() (bool, string) {
			return slack.count("gitops-monitor-prod", "waits for a person") == 2, fmt.Sprint(slack.all())
		})
		assert.NotContains(t, deployedImage(t, "prod"), ":sha-live002", "prod runs what a person synced")
	}) {
		return // each step builds on the one before
	}

	// 6: the README's rollback drill: revert the bump, push; the previous
	// tag runs again where the bump had reached.
	if !t.Run("the rollback drill", func(t *testing.T) {
		require.NotEmpty(t, previous)
		before, err := git.head()
		require.NoError(t, err)
		_, err = git.git("revert", "--no-edit", "HEAD")
		require.NoError(t, err)
		pushAndAnnounce(t, before, "manifests/dev/kustomization.yaml", "manifests/staging/kustomization.yaml", "manifests/prod/kustomization.yaml")
		waitImage(t, "dev", previous[strings.LastIndex(previous, ":"):], 1)
		waitImage(t, "staging", previous[strings.LastIndex(previous, ":"):], 2)
	}) {
		return // each step builds on the one before
	}

	// 7: self-heal and prune.
	if !t.Run("self-heal and prune", func(t *testing.T) {
		scale, err := envs["dev"].kube.AppsV1().Deployments(appNamespace).GetScale(context.Background(), "gitops-monitor", metav1.GetOptions{})
		require.NoError(t, err)
		scale.Spec.Replicas = 4
		_, err = envs["dev"].kube.AppsV1().Deployments(appNamespace).UpdateScale(context.Background(), "gitops-monitor", scale, metav1.UpdateOptions{})
		require.NoError(t, err)
		eventually(t, 2*time.Minute, "dev healed back to 1 replica", func() (bool, string) {
			d, err := envs["dev"].kube.AppsV1().Deployments(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return *d.Spec.Replicas == 1, fmt.Sprintf("spec.replicas %d", *d.Spec.Replicas)
		})

		before, err := git.head()
		require.NoError(t, err)
		kustomization := filepath.Join(git.work, "manifests", "base", "kustomization.yaml")
		b, err := os.ReadFile(kustomization)
		require.NoError(t, err)
		require.Contains(t, string(b), "  - servicemonitor.yaml\n")
		require.NoError(t, os.WriteFile(kustomization, []byte(strings.Replace(string(b), "  - servicemonitor.yaml\n", "", 1)), 0o644))
		_, err = git.git("commit", "-qam", "Stop scraping the app")
		require.NoError(t, err)
		pushAndAnnounce(t, before, "manifests/base/kustomization.yaml")
		for _, env := range []string{"dev", "staging"} {
			eventually(t, 2*time.Minute, env+"'s ServiceMonitor pruned", func() (bool, string) {
				_, err := envs[env].dyn.Resource(serviceMonitors).Namespace(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
				return apierrors.IsNotFound(err), fmt.Sprint(err)
			})
		}
		_, err = envs["prod"].dyn.Resource(serviceMonitors).Namespace(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
		assert.NoError(t, err, "prod keeps what a person synced until a person syncs again")
	}) {
		return // each step builds on the one before
	}

	// 8: least privilege, live: argocd-manager's token, as the staging
	// cluster Secret carries it, is refused outside the app's namespace by
	// the API server itself, and an Application aimed there creates nothing.
	if !t.Run("least privilege", func(t *testing.T) {
		status := managerRequest(t, "staging", "POST", "/api/v1/namespaces/kube-system/configmaps",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-argocd-manager"}}`)
		assert.Equal(t, http.StatusForbidden, status, "the API server refuses argocd-manager outside gitops-monitor")
		assert.Equal(t, http.StatusForbidden, managerRequest(t, "staging", "GET", "/api/v1/nodes", ""), "no cluster-scoped read either")
		assert.Equal(t, http.StatusOK, managerRequest(t, "staging", "GET", "/api/v1/namespaces/gitops-monitor/configmaps", ""))

		app := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": "escape-to-kube-system", "namespace": argocdNamespace},
			"spec": map[string]any{
				"project":     "gitops-monitor",
				"source":      map[string]any{"repoURL": git.url, "targetRevision": "HEAD", "path": "manifests/staging"},
				"destination": map[string]any{"server": envs["staging"].URL(), "namespace": "kube-system"},
				"syncPolicy":  map[string]any{"automated": map[string]any{}},
			},
		}}
		_, err := envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).Create(context.Background(), app, metav1.CreateOptions{})
		require.NoError(t, err)
		// Argo CD refuses it first, by the AppProject's destinations; the
		// API server's refusal above is what stands behind that.
		eventually(t, 2*time.Minute, "the escaping Application refused", func() (bool, string) {
			_, _, conds := appState("escape-to-kube-system")
			return strings.Contains(conds, "do not match any of the allowed destinations"), conds
		})
		_, err = envs["staging"].kube.AppsV1().Deployments("kube-system").Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "nothing created in kube-system: %v", err)
		require.NoError(t, envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).Delete(context.Background(), "escape-to-kube-system", metav1.DeleteOptions{}))
	}) {
		return
	}

	// 9: a commit whose Pods never become ready (nothing can schedule
	// them) degrades dev, and Slack hears it; reverting it heals.
	if !t.Run("a failing commit is reported", func(t *testing.T) {
		before, err := git.head()
		require.NoError(t, err)
		overlay := filepath.Join(git.work, "manifests", "dev", "kustomization.yaml")
		b, err := os.ReadFile(overlay)
		require.NoError(t, err)
		patch := `
patches:
  - target: {kind: Deployment, name: gitops-monitor}
    patch: |
      - op: add
        path: /spec/progressDeadlineSeconds
        value: 5
      - op: add
        path: /spec/template/spec/nodeSelector
        value: {no-such-node: "true"}
`
		require.NoError(t, os.WriteFile(overlay, append(b, patch...), 0o644))
		_, err = git.git("commit", "-qam", "Pin dev to a node that does not exist")
		require.NoError(t, err)
		after := pushAndAnnounce(t, before, "manifests/dev/kustomization.yaml")
		eventually(t, 2*time.Minute, "Slack hears dev degraded", func() (bool, string) {
			return slack.count("gitops-monitor-dev", "Degraded") >= 1, fmt.Sprint(slack.all())
		})
		// The sync of the bad commit succeeds while the previous Pods are
		// still Healthy (argo-cd #9070): it is never announced as deployed.
		assert.Zero(t, slack.count("gitops-monitor-dev is Synced and Healthy at revision "+after),
			"a deploy whose Pods never became ready was announced: %v", slack.all())
		_, err = git.git("revert", "--no-edit", "HEAD")
		require.NoError(t, err)
		reverted := pushAndAnnounce(t, after, "manifests/dev/kustomization.yaml")
		eventually(t, 2*time.Minute, "dev Healthy again", func() (bool, string) {
			sync, health, conds := appState("gitops-monitor-dev")
			return sync == "Synced" && health == "Healthy" && readyReplicas("dev") == 1, sync + "/" + health + " " + conds + "; " + workloads("dev")
		})
		eventually(t, time.Minute, "Slack hears the revert deployed", func() (bool, string) {
			return slack.count("gitops-monitor-dev is Synced and Healthy at revision "+reverted) == 1, fmt.Sprint(slack.all())
		})
	}) {
		return
	}

	// Trust: a commit that adds a Pod with the host's filesystem and process
	// namespace is refused by the API server's Pod Security admission (the
	// app namespace enforces restricted) and nothing runs. (A privileged
	// container would be refused before that here: this API server runs
	// with --allow-privileged=false, unlike minikube's.)
	if !t.Run("a commit cannot take the node", func(t *testing.T) {
		ctx := context.Background()
		before, err := git.head()
		require.NoError(t, err)
		addToDevOverlay(t, "escape.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: escape
spec:
  hostPID: true
  containers:
    - name: shell
      image: busybox:1.37.0
      volumeMounts: [{name: host, mountPath: /host}]
  volumes:
    - name: host
      hostPath: {path: /}
`)
		after := pushAndAnnounce(t, before, "manifests/dev/escape.yaml", "manifests/dev/kustomization.yaml")
		eventually(t, 2*time.Minute, "the privileged Pod refused by Pod Security admission", func() (bool, string) {
			msg := operationMessages("gitops-monitor-dev")
			return strings.Contains(msg, "violates PodSecurity"), msg
		})
		_, err = envs["dev"].kube.CoreV1().Pods(appNamespace).Get(ctx, "escape", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "nothing runs: %v", err)
		// What `argocd app terminate-op` does: the failing sync stops
		// retrying, and the revert below is synced on its own.
		_, err = envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).Patch(ctx, "gitops-monitor-dev",
			types.MergePatchType, []byte(`{"status":{"operationState":{"phase":"Terminating"}}}`), metav1.PatchOptions{})
		require.NoError(t, err)
		_, err = git.git("revert", "--no-edit", "HEAD")
		require.NoError(t, err)
		pushAndAnnounce(t, after, "manifests/dev/escape.yaml", "manifests/dev/kustomization.yaml")
		eventually(t, 3*time.Minute, "dev Synced and Healthy again", func() (bool, string) {
			sync, health, conds := appState("gitops-monitor-dev")
			return sync == "Synced" && health == "Healthy", sync + "/" + health + " " + conds
		})
	}) {
		return
	}

	// 10: teardown in the README's order: the ApplicationSets first, while
	// Argo CD runs; their Applications' finalizers remove dev's and
	// staging's workloads, prod's stay (preserveResourcesOnDeletion) until
	// prod's own stack deletes its namespace; nothing is left Terminating.
	t.Run("teardown", func(t *testing.T) {
		ctx := context.Background()
		for _, name := range []string{"gitops-monitor-auto", "gitops-monitor-manual"} {
			require.NoError(t, envs["dev"].dyn.Resource(applicationSets).Namespace(argocdNamespace).Delete(ctx, name, metav1.DeleteOptions{}))
		}
		eventually(t, 3*time.Minute, "every Application gone", func() (bool, string) {
			list, err := envs["dev"].dyn.Resource(applications).Namespace(argocdNamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			var left []string
			for _, a := range list.Items {
				left = append(left, fmt.Sprintf("%s (deleting: %v, finalizers %v)", a.GetName(), a.GetDeletionTimestamp() != nil, a.GetFinalizers()))
			}
			return len(left) == 0, strings.Join(left, "; ")
		})
		for _, env := range []string{"dev", "staging"} {
			eventually(t, 2*time.Minute, env+"'s workloads removed", func() (bool, string) {
				return readyReplicas(env) == -1, workloads(env)
			})
		}
		assert.Equal(t, 3, readyReplicas("prod"), "prod keeps running: its workloads go only with its own stack")
		require.NoError(t, envs["prod"].kube.CoreV1().Namespaces().Delete(ctx, appNamespace, metav1.DeleteOptions{}))
		eventually(t, 2*time.Minute, "prod's namespace gone, nothing Terminating", func() (bool, string) {
			_, err := envs["prod"].kube.CoreV1().Namespaces().Get(ctx, appNamespace, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	})
}

var applicationSets = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"}

// managerRequest sends a request to an environment's API server with the
// token its cluster Secret gives Argo CD, and returns the status code.
func managerRequest(t *testing.T, env, method, path, body string) int {
	t.Helper()
	s, err := envs[env].kube.CoreV1().Secrets("kube-system").Get(context.Background(), "argocd-manager-token", metav1.GetOptions{})
	require.NoError(t, err)
	config := rest.CopyConfig(envs[env].cluster.Config)
	config.TLSClientConfig.CertData, config.TLSClientConfig.KeyData = nil, nil
	config.BearerToken = string(s.Data["token"])
	transport, err := rest.TransportFor(config)
	require.NoError(t, err)
	req, err := http.NewRequest(method, config.Host+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

var serviceMonitors = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}

// deployedImage is the image of the app's Deployment in an environment.
func deployedImage(t testing.TB, env string) string {
	t.Helper()
	d, err := envs[env].kube.AppsV1().Deployments(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
	require.NoError(t, err)
	return d.Spec.Template.Spec.Containers[0].Image
}

// waitImage waits until an environment runs an image ending in suffix,
// with its replicas ready, and its Application is Synced and Healthy.
func waitImage(t testing.TB, env, suffix string, replicas int) {
	t.Helper()
	eventually(t, 3*time.Minute, env+" runs *"+suffix, func() (bool, string) {
		d, err := envs[env].kube.AppsV1().Deployments(appNamespace).Get(context.Background(), "gitops-monitor", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		image := d.Spec.Template.Spec.Containers[0].Image
		sync, health, conds := appState("gitops-monitor-" + env)
		ok := strings.HasSuffix(image, suffix) && int(d.Status.UpdatedReplicas) == replicas && int(d.Status.ReadyReplicas) == replicas &&
			d.Status.Replicas == d.Status.UpdatedReplicas && sync == "Synced" && health == "Healthy"
		return ok, fmt.Sprintf("%s, %d/%d ready, %s/%s [%s]", image, d.Status.ReadyReplicas, replicas, sync, health, conds)
	})
}

// addToDevOverlay commits a new file into dev's overlay and lists it in
// the overlay's resources, as a person's commit to the gitops repo would.
func addToDevOverlay(t testing.TB, name, content string) {
	t.Helper()
	dir := filepath.Join(git.work, "manifests", "dev")
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	k := filepath.Join(dir, "kustomization.yaml")
	b, err := os.ReadFile(k)
	require.NoError(t, err)
	require.Contains(t, string(b), "resources:\n- ../base\n")
	require.NoError(t, os.WriteFile(k, []byte(strings.Replace(string(b), "resources:\n- ../base\n", "resources:\n- ../base\n- "+name+"\n", 1)), 0o644))
	_, err = git.git("add", "-A")
	require.NoError(t, err)
	_, err = git.git("commit", "-qm", "Add "+name+" to dev")
	require.NoError(t, err)
}

// operationMessages is an Application's last operation's message, its
// resources' messages and its conditions.
func operationMessages(name string) string {
	app, err := application(name)
	if err != nil {
		return err.Error()
	}
	msg, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "message")
	parts := []string{msg}
	resources, _, _ := unstructured.NestedSlice(app.Object, "status", "operationState", "syncResult", "resources")
	for _, r := range resources {
		m, _ := r.(map[string]any)
		parts = append(parts, fmt.Sprint(m["kind"], " ", m["name"], ": ", m["message"]))
	}
	_, _, conds := appState(name)
	return strings.Join(append(parts, conds), "; ")
}

// pushAndAnnounce pushes the work clone's HEAD to main and tells Argo CD
// with the signed push event, as GitHub's webhook would; it returns the
// pushed commit.
func pushAndAnnounce(t testing.TB, before string, modified ...string) string {
	t.Helper()
	_, err := git.git("push", "-q", "origin", "HEAD:main")
	require.NoError(t, err)
	after, err := git.head()
	require.NoError(t, err)
	status, err := postPush(before, after, modified, webhookSecret)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "argocd-server takes the signed push")
	return after
}

// bumpImage runs the source repo's bump-image.sh, as the CI's release job
// runs it, in the work clone: every overlay gets the tag, one commit,
// pushed to main. It returns the pushed commit.
func bumpImage(t testing.TB, tag string) string {
	t.Helper()
	image := deployedImage(t, "dev")
	repository := image[:strings.LastIndex(image, ":")]
	script := filepath.Join(renderDir, "dev", "repos", "tech-seminar-source", ".github", "scripts", "bump-image.sh")
	cmd := exec.Command("bash", script, git.work, "gitops-monitor", repository, tag)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(kustomize)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	head, err := git.head()
	require.NoError(t, err)
	return head
}

// BenchmarkPushToDevHealthy measures a tag bump pushed to the gitops repo
// and announced by the signed webhook, until dev runs the new tag with its
// replica Ready and its Application Synced and Healthy. Run it alone
// (make live-bench): TestDelivery's teardown removes what it needs.
func BenchmarkPushToDevHealthy(b *testing.B) {
	eventually(b, 3*time.Minute, "dev Synced and Healthy before the first push", func() (bool, string) {
		sync, health, conds := appState("gitops-monitor-dev")
		return sync == "Synced" && health == "Healthy" && readyReplicas("dev") == 1, sync + "/" + health + " " + conds
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tag := fmt.Sprintf("sha-bench%03d", i)
		before, err := git.head()
		require.NoError(b, err)
		after := bumpImage(b, tag)
		status, err := postPush(before, after, []string{"manifests/dev/kustomization.yaml"}, webhookSecret)
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, status)
		waitImage(b, "dev", ":"+tag, 1)
	}
}
