package argocd

import (
	"fmt"
	"strings"

	"github.com/gitops-platform/gitops-platform/components/internal/untyped"
)

// Argo CD's setting that limits its cluster cache to what its identity may
// list ("normal": asks the API server with SelfSubjectAccessReviews).
const (
	respectRBACKey    = "resource.respectRBAC"
	respectRBACNormal = "normal"
)

// ValuesOptions drive the argo-cd chart's values.
type ValuesOptions struct {
	// Insecure serves Argo CD's UI and API over plain HTTP: a local lab
	// reached through port-forward, never a shared hub.
	Insecure     bool
	AdminEnabled bool
	// HA runs two of each stateless component, shards the controller over
	// two replicas and replaces redis with redis-ha (soft anti-affinity).
	HA bool
	// Metrics turns on metrics and ServiceMonitors; only with the monitoring
	// stack present, whose CRDs the ServiceMonitors need.
	Metrics   bool
	ArgoCDURL string
	// Notifications is the data of argocd-notifications-cm (NotificationsConfig).
	Notifications map[string]string
	// SSO is how people log in; RBAC what each group may do.
	SSO  SSO
	RBAC RBAC
}

// chart values, the parts this platform sets (argo-cd chart 9.4.x).
type values struct {
	Configs        configs       `json:"configs"`
	Controller     component     `json:"controller"`
	Server         component     `json:"server"`
	RepoServer     component     `json:"repoServer"`
	ApplicationSet component     `json:"applicationSet"`
	Dex            enabled       `json:"dex"`
	RedisHA        redisHA       `json:"redis-ha"`
	Notifications  notifications `json:"notifications"`
}

type configs struct {
	CM     map[string]string `json:"cm"`
	Params map[string]any    `json:"params"`
	RBAC   map[string]string `json:"rbac"`
}

type component struct {
	Replicas int     `json:"replicas"`
	Metrics  metrics `json:"metrics"`
}

type metrics struct {
	Enabled        bool    `json:"enabled"`
	ServiceMonitor enabled `json:"serviceMonitor"`
}

type enabled struct {
	Enabled bool `json:"enabled"`
}

// redisHA is the redis-ha subchart. Its default hard anti-affinity puts
// each of its three Redis and three HAProxy pods on a node of its own and
// leaves them Pending on fewer nodes (a minikube hub has one): the platform
// asks for soft anti-affinity, which spreads them where there are nodes to
// spread over and still schedules them where there are not.
type redisHA struct {
	Enabled          bool        `json:"enabled"`
	HardAntiAffinity bool        `json:"hardAntiAffinity"`
	HAProxy          antiAffined `json:"haproxy"`
}

type antiAffined struct {
	HardAntiAffinity bool `json:"hardAntiAffinity"`
}

type notifications struct {
	Enabled   bool              `json:"enabled"`
	ArgoCDURL string            `json:"argocdUrl,omitempty"`
	CM        create            `json:"cm"`
	Secret    create            `json:"secret"`
	Metrics   metrics           `json:"metrics"`
	Notifiers map[string]string `json:"notifiers"`
	Triggers  map[string]string `json:"triggers"`
	Templates map[string]string `json:"templates"`
}

type create struct {
	Create bool `json:"create"`
}

// Values returns the argo-cd chart's values as the Helm release takes them.
func Values(o ValuesOptions) (map[string]any, error) {
	replicas := 1
	if o.HA {
		replicas = 2
	}
	m := metrics{Enabled: o.Metrics, ServiceMonitor: enabled{Enabled: o.Metrics}}
	stateless := component{Replicas: replicas, Metrics: m}
	v := values{
		Configs: configs{
			CM: map[string]string{
				"admin.enabled": fmt.Sprint(o.AdminEnabled),
				// Git polling as in the seminar (3 minutes); a webhook makes it seconds.
				"timeout.reconciliation": "180s",
				// The controller caches only the kinds its identity may list.
				// Without this it lists every kind it discovers, cluster-scoped
				// ones included, and a cluster registered with a namespace-scoped
				// identity never syncs ("persistentvolumes is forbidden ... at
				// the cluster scope"). Read when the controller starts.
				respectRBACKey: respectRBACNormal,
			},
			Params: map[string]any{"server.insecure": o.Insecure},
			// Anyone who can log in may look; changing things takes a role,
			// given to SSO groups (the claim in scopes).
			RBAC: map[string]string{"policy.default": "role:readonly", "scopes": "[" + o.SSO.scope() + "]"},
		},
		// The chart sets ARGOCD_CONTROLLER_REPLICAS from replicas: two shard the clusters.
		Controller:     stateless,
		Server:         stateless,
		RepoServer:     stateless,
		ApplicationSet: stateless,
		// Dex runs only to log people in with GitHub.
		Dex:     enabled{Enabled: o.SSO.Kind == SSOGitHub},
		RedisHA: redisHA{Enabled: o.HA},
		Notifications: notifications{
			Enabled:   true,
			ArgoCDURL: o.ArgoCDURL,
			CM:        create{Create: true},
			// The program writes the Secret itself, so the Slack credential
			// stays out of the release's values.
			Secret:    create{Create: false},
			Metrics:   m,
			Notifiers: map[string]string{},
			Triggers:  map[string]string{},
			Templates: map[string]string{},
		},
	}
	sso, err := o.SSO.cm()
	if err != nil {
		return nil, err
	}
	for k, val := range sso {
		v.Configs.CM[k] = val
	}
	if o.SSO.Kind != "" {
		if o.ArgoCDURL == "" {
			return nil, fmt.Errorf("argocd values: single sign-on needs Argo CD's URL (its callback)")
		}
		v.Configs.CM["url"] = o.ArgoCDURL
	}
	if policy := o.RBAC.Policy(); policy != "" {
		v.Configs.RBAC["policy.csv"] = policy
	}
	for k, val := range o.Notifications {
		switch {
		case strings.HasPrefix(k, "service."):
			v.Notifications.Notifiers[k] = val
		case strings.HasPrefix(k, "trigger."):
			v.Notifications.Triggers[k] = val
		case strings.HasPrefix(k, "template."):
			v.Notifications.Templates[k] = val
		default:
			return nil, fmt.Errorf("argocd values: notifications key %q is not a service, trigger or template", k)
		}
	}
	return untyped.Map(v)
}
