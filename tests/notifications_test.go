package tests

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/argoproj/notifications-engine/pkg/templates"
	"github.com/argoproj/notifications-engine/pkg/triggers"
	"github.com/expr-lang/expr"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	typeRelease = "kubernetes:helm.sh/v3:Release"
	typeAppSet  = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
	typeProject = "kubernetes:argoproj.io/v1alpha1:AppProject"
)

// reveal reads a property as the provider would get it: secrets unwrapped.
func reveal(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return reveal(v.SecretValue().Element)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = reveal(e)
		}
		return m
	case v.IsArray():
		var a []any
		for _, e := range v.ArrayValue() {
			a = append(a, reveal(e))
		}
		return a
	}
	return v.V
}

// slackSettings are the hub config of each Slack method, with credentials
// ending in suffix.
func slackSettings(suffix string) map[string]map[string]string {
	return map[string]map[string]string{
		"bot":     {"slackToken": "xoxb-" + suffix},
		"webhook": {"slackMethod": "webhook", "slackWebhookUrl": "https://hooks.slack.com/services/T0/B0/" + suffix},
	}
}

// evaluateWithSlack runs the hub with one Slack method, its credential
// set as a secret, as `pulumi config set --secret` would.
func evaluateWithSlack(t *testing.T, set map[string]string) (*offline.Result, error) {
	t.Helper()
	return evaluateStackWithSlack(t, "dev", set)
}

// evaluateStackWithSlack is evaluateWithSlack for any stack.
func evaluateStackWithSlack(t *testing.T, stack string, set map[string]string) (*offline.Result, error) {
	t.Helper()
	var secrets []string
	for k := range set {
		if k != "slackMethod" {
			secrets = append(secrets, k)
		}
	}
	return evaluateWith(t, stack, set, secrets...)
}

// notificationObjects rebuilds argocd-notifications-cm as the argo-cd chart
// writes it from the release's values, and argocd-notifications-secret.
func notificationObjects(t *testing.T, res *offline.Result) (*corev1.ConfigMap, *corev1.Secret) {
	t.Helper()
	values := reveal(named(t, res, typeRelease, "argocd").Inputs["values"]).(map[string]any)
	n := values["notifications"].(map[string]any)
	require.Equal(t, true, n["enabled"])
	require.Equal(t, true, n["cm"].(map[string]any)["create"])
	require.Equal(t, false, n["secret"].(map[string]any)["create"], "the program writes the Secret, not the chart")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argocd-notifications-cm", Namespace: "argocd"}, Data: map[string]string{}}
	for _, section := range []string{"notifiers", "triggers", "templates"} {
		for k, v := range n[section].(map[string]any) {
			cm.Data[k] = v.(string)
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "argocd-notifications-secret", Namespace: "argocd"}, Data: map[string][]byte{}}
	if data, ok := reveal(named(t, res, typeSecret, "argocd-notifications-secret").Inputs["stringData"]).(map[string]any); ok {
		for k, v := range data {
			secret.Data[k] = []byte(v.(string))
		}
	}
	return cm, secret
}

// appSetAnnotations returns the subscription annotations an ApplicationSet
// puts on its Applications.
func appSetAnnotations(t *testing.T, res *offline.Result, name string) map[string]string {
	t.Helper()
	spec := reveal(named(t, res, typeAppSet, name).Inputs["spec"]).(map[string]any)
	meta := spec["template"].(map[string]any)["metadata"].(map[string]any)
	out := map[string]string{}
	if ann, ok := meta["annotations"].(map[string]any); ok {
		for k, v := range ann {
			out[k] = v.(string)
		}
	}
	return out
}

// checkSubscriptions reports every subscription that names a trigger or a
// service the configuration does not define: Argo CD ignores those silently.
func checkSubscriptions(cfg *api.Config, annotations map[string]string) []string {
	var problems []string
	for trigger, dests := range subscriptions.NewAnnotations(annotations).GetDestinations(nil, nil) {
		if _, ok := cfg.Triggers[trigger]; !ok {
			problems = append(problems, "undefined trigger "+trigger)
		}
		for _, d := range dests {
			if _, ok := cfg.Services[d.Service]; !ok {
				problems = append(problems, "undefined service "+d.Service)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// sampleApp is an Application in a given state, as the controller hands it
// to the notifications engine.
func sampleApp(automated bool, phase, health, sync string) map[string]any {
	policy := map[string]any{"syncOptions": []any{"CreateNamespace=true"}}
	if automated {
		policy["automated"] = map[string]any{"prune": true, "selfHeal": true}
	}
	// The health was reached 20 s after the sync started.
	app := map[string]any{
		"metadata": map[string]any{"name": "gitops-monitor-prod", "namespace": "argocd"},
		"spec":     map[string]any{"project": "gitops-monitor", "syncPolicy": policy},
		"status": map[string]any{
			"sync":   map[string]any{"status": sync, "revision": "4f2c1ab"},
			"health": map[string]any{"status": health, "lastTransitionTime": "2026-12-06T10:00:20Z"},
		},
	}
	if phase != "" {
		app["status"].(map[string]any)["operationState"] = map[string]any{
			"phase": phase, "message": "one or more objects failed to apply",
			"startedAt": "2026-12-06T10:00:00Z", "finishedAt": "2026-12-06T10:00:03Z",
			"syncResult": map[string]any{"revision": "4f2c1ab"},
		}
	}
	return app
}

// exprVars are what Argo CD's notifications controller hands a trigger:
// the app, and its expression helpers, of which the triggers use
// time.Parse (Argo CD's util/notification/expression/time: RFC 3339).
func exprVars(app map[string]any) map[string]any {
	return map[string]any{"app": app, "time": map[string]any{"Parse": func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}}}
}

// TestNotificationsWithArgoCDsEngine parses the rendered notifications
// configuration with Argo CD's own notifications engine, for both Slack
// methods: every trigger compiles and fires on the state it is for and not
// on others, every template renders, and every subscription of both
// ApplicationSets names a defined trigger and service.
func TestNotificationsWithArgoCDsEngine(t *testing.T) {
	t.Parallel()
	for method, set := range slackSettings("x") {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			res, err := evaluateWithSlack(t, set)
			require.NoError(t, err)
			assert.Empty(t, res.Warnings)
			cm, secret := notificationObjects(t, res)
			cfg, err := api.ParseConfig(cm, secret)
			require.NoError(t, err)
			require.Len(t, cfg.Services, 1)
			for name, factory := range cfg.Services {
				_, err := factory()
				require.NoError(t, err, "service %s", name)
			}

			trig, err := triggers.NewService(cfg.Triggers)
			require.NoError(t, err, "every trigger condition compiles")
			tmpl, err := templates.NewService(cfg.Templates)
			require.NoError(t, err, "every template parses")

			states := map[string]map[string]any{
				"on-deployed":             sampleApp(true, "Succeeded", "Healthy", "Synced"),
				"on-sync-failed":          sampleApp(true, "Failed", "Healthy", "OutOfSync"),
				"on-health-degraded":      sampleApp(true, "Succeeded", "Degraded", "Synced"),
				"on-awaiting-manual-sync": sampleApp(false, "", "Healthy", "OutOfSync"),
			}
			require.Len(t, cfg.Triggers, len(states))
			for name, conds := range cfg.Triggers {
				app, ok := states[name]
				require.True(t, ok, "no sample state for trigger %s", name)
				for stateName, other := range states {
					results, err := trig.Run(name, exprVars(other))
					require.NoError(t, err)
					fired := len(results) > 0 && results[0].Triggered
					assert.Equal(t, stateName == name, fired, "trigger %s on the state of %s", name, stateName)
				}
				for _, c := range conds {
					for _, tn := range c.Send {
						n, err := tmpl.FormatNotification(map[string]any{"app": app, "context": map[string]any{}}, tn)
						require.NoError(t, err, "template %s", tn)
						assert.Contains(t, n.Message, "gitops-monitor-prod", "template %s", tn)
						if method == "bot" {
							require.NotNil(t, n.Slack, "template %s", tn)
							assert.True(t, json.Valid([]byte(n.Slack.Attachments)), "template %s: attachments are JSON: %s", tn, n.Slack.Attachments)
						} else {
							body := n.Webhook["slack-webhook"].Body
							assert.True(t, json.Valid([]byte(body)), "template %s: webhook body is JSON: %s", tn, body)
						}
					}
				}
			}
			// The automated sync of dev and staging never waits for a person.
			results, err := trig.Run("on-awaiting-manual-sync", exprVars(sampleApp(true, "", "Healthy", "OutOfSync")))
			require.NoError(t, err)
			assert.False(t, results[0].Triggered)
			// A sync that succeeded while the health is still the previous
			// Pods' (Healthy since before it started) is not a deploy.
			stale := sampleApp(true, "Succeeded", "Healthy", "Synced")
			stale["status"].(map[string]any)["health"].(map[string]any)["lastTransitionTime"] = "2026-12-06T09:40:00Z"
			results, err = trig.Run("on-deployed", exprVars(stale))
			require.NoError(t, err)
			assert.False(t, results[0].Triggered, "a stale Healthy is not announced as deployed")

			auto := appSetAnnotations(t, res, "gitops-monitor-auto")
			manual := appSetAnnotations(t, res, "gitops-monitor-manual")
			assert.Len(t, auto, 3)
			assert.Len(t, manual, 4, "prod also hears that a revision waits for it")
			assert.Empty(t, checkSubscriptions(cfg, auto))
			assert.Empty(t, checkSubscriptions(cfg, manual))
			if method == "bot" {
				for _, recipient := range manual {
					assert.Equal(t, "#배포-알림", recipient)
				}
			}
		})
	}
}

// TestSubscriptionCheckFindsUndefinedTrigger proves the subscription check
// can fail: the seminar's on-degraded, which no catalog defines, is caught.
func TestSubscriptionCheckFindsUndefinedTrigger(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "dev", map[string]string{"slackToken": "xoxb-test-token"}, "slackToken")
	require.NoError(t, err)
	cm, secret := notificationObjects(t, res)
	cfg, err := api.ParseConfig(cm, secret)
	require.NoError(t, err)
	seminar := map[string]string{
		"notifications.argoproj.io/subscribe.on-deployed.slack": "#배포-알림",
		"notifications.argoproj.io/subscribe.on-degraded.slack": "#배포-알림",
		"notifications.argoproj.io/subscribe.on-deployed.teams": "ops",
	}
	assert.Equal(t, []string{"undefined service teams", "undefined trigger on-degraded"}, checkSubscriptions(cfg, seminar))
}

// TestNoSlackNoSubscriptions checks that without a Slack credential no
// service is defined and nothing subscribes to one.
func TestNoSlackNoSubscriptions(t *testing.T) {
	t.Parallel()
	res := evaluate(t, "dev")
	cm, secret := notificationObjects(t, res)
	cfg, err := api.ParseConfig(cm, secret)
	require.NoError(t, err)
	assert.Empty(t, cfg.Services)
	assert.NotEmpty(t, cfg.Triggers)
	assert.Empty(t, appSetAnnotations(t, res, "gitops-monitor-auto"))
	assert.Empty(t, appSetAnnotations(t, res, "gitops-monitor-manual"))
	for k := range cm.Data {
		assert.False(t, strings.HasPrefix(k, "service."), k)
	}
}

// TestTriggersHoldOnABrandNewApplication evaluates every trigger's
// conditions, as the notifications engine compiles them, on Applications
// the ApplicationSets have just made: one with no status at all, and one
// whose first comparison set only its sync status. No condition may fail
// to evaluate there (the engine would log the error and skip the trigger),
// nothing fires on the brand-new one, and prod's first OutOfSync revision
// already tells Slack it waits for a person.
func TestTriggersHoldOnABrandNewApplication(t *testing.T) {
	t.Parallel()
	res, err := evaluateWithSlack(t, slackSettings("x")["bot"])
	require.NoError(t, err)
	cm, secret := notificationObjects(t, res)
	cfg, err := api.ParseConfig(cm, secret)
	require.NoError(t, err)
	brandNew := map[string]any{
		"metadata": map[string]any{"name": "gitops-monitor-prod", "namespace": "argocd"},
		"spec":     map[string]any{"project": "gitops-monitor", "syncPolicy": map[string]any{}},
	}
	firstCompare := map[string]any{
		"metadata": brandNew["metadata"],
		"spec":     brandNew["spec"],
		"status":   map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": "4f2c1ab"}},
	}
	for state, want := range map[string]struct {
		app   map[string]any
		fires []string
	}{
		"brand-new":     {brandNew, nil},
		"first compare": {firstCompare, []string{"on-awaiting-manual-sync"}},
	} {
		var fired []string
		for name, conds := range cfg.Triggers {
			for _, c := range conds {
				for _, src := range []string{c.When, c.OncePer} {
					if src == "" {
						continue
					}
					prog, err := expr.Compile(src)
					require.NoError(t, err, "trigger %s: %s", name, src)
					out, err := expr.Run(prog, map[string]any{"app": want.app})
					require.NoError(t, err, "trigger %s on a %s Application: %s", name, state, src)
					if src == c.When && out == true {
						fired = append(fired, name)
					}
				}
			}
		}
		assert.ElementsMatch(t, want.fires, fired, "triggers that fire on a %s Application", state)
	}
}
