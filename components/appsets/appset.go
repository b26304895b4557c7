// Package appsets builds the two ApplicationSets: one for environments that
// Argo CD syncs on its own, one for those a person syncs.
package appsets

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"sort"
)

// applicationSet is the part of Argo CD's applicationSet this platform sets.
type applicationSet struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       Spec       `json:"spec"`
}

// objectMeta is a Kubernetes object's name, namespace, labels and annotations.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec of an applicationSet.
type Spec struct {
	GoTemplate        bool              `json:"goTemplate"`
	GoTemplateOptions []string          `json:"goTemplateOptions"`
	Generators        []generator       `json:"generators"`
	Template          Template          `json:"template"`
	SyncPolicy        *appSetSyncPolicy `json:"syncPolicy,omitempty"`
}

// appSetSyncPolicy is what the applicationSet does to its Applications.
type appSetSyncPolicy struct {
	// PreserveResourcesOnDeletion: deleting the applicationSet (or an
	// Application it generated) leaves the workloads running.
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion"`
}

// generator is a cluster generator selecting registered clusters by label.
type generator struct {
	Clusters clusterGenerator `json:"clusters"`
}

// clusterGenerator selects cluster Secrets.
type clusterGenerator struct {
	Selector labelSelector `json:"selector"`
}

// labelSelector matches labels.
type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []requirement     `json:"matchExpressions,omitempty"`
}

// requirement is one label selector expression.
type requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// Template is the Application each selected cluster gets.
type Template struct {
	Metadata objectMeta      `json:"metadata"`
	Spec     applicationSpec `json:"spec"`
}

// applicationSpec of a templated Application.
type applicationSpec struct {
	Project     string      `json:"project"`
	Source      Source      `json:"source"`
	Destination Destination `json:"destination"`
	SyncPolicy  SyncPolicy  `json:"syncPolicy"`
}

// Source is where the manifests come from.
type Source struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Path           string `json:"path"`
}

// Destination is where they go.
type Destination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// SyncPolicy says how an Application syncs.
type SyncPolicy struct {
	Automated   *Automated `json:"automated,omitempty"`
	SyncOptions []string   `json:"syncOptions"`
	Retry       Retry      `json:"retry"`
}

// Automated sync: Argo CD applies every new revision.
type Automated struct {
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

// Retry of a failed sync, with backoff.
type Retry struct {
	Limit   int     `json:"limit"`
	Backoff Backoff `json:"backoff"`
}

// Backoff between sync retries.
type Backoff struct {
	Duration    string `json:"duration"`
	Factor      int    `json:"factor"`
	MaxDuration string `json:"maxDuration"`
}

// options build one applicationSet.
type options struct {
	// Manual selects clusters labelled sync=manual and sets no automated sync.
	Manual       bool
	Namespace    string // Argo CD's
	Project      string
	RepoURL      string
	AppName      string // Applications are <AppName>-<env>
	AppNamespace string
	// Annotations go on every Application: the notification subscriptions.
	Annotations map[string]string
}

// build returns the applicationSet for one sync mode. The cluster generator
// gives each registered cluster's Secret to the template: .name is the
// environment, .server its API server.
func build(o options) (applicationSet, error) {
	if o.Project == "" || o.Project == "default" {
		return applicationSet{}, fmt.Errorf("applicationset: project %q: use the platform's own project, never default", o.Project)
	}
	sync := platform.SyncAuto
	policy := SyncPolicy{Automated: &Automated{Prune: true, SelfHeal: true}}
	selector := labelSelector{
		MatchLabels:      map[string]string{platform.LabelSync: sync},
		MatchExpressions: []requirement{{Key: platform.LabelEnv, Operator: "NotIn", Values: []string{platform.ProdEnvironment}}},
	}
	if o.Manual {
		sync = platform.SyncManual
		policy.Automated = nil
		selector = labelSelector{MatchLabels: map[string]string{platform.LabelSync: sync}}
	}
	name := o.AppName + "-" + sync // gitops-monitor-auto and gitops-monitor-manual, as the seminar names them
	var setPolicy *appSetSyncPolicy
	if o.Manual {
		// Deleting or replacing the manual applicationSet deletes prod's
		// Application, and through its finalizer prod's workloads, unless
		// told to keep them. Prod's workloads go only on purpose: with the
		// prod stack's destroy, which deletes the app's namespace (README).
		setPolicy = &appSetSyncPolicy{PreserveResourcesOnDeletion: true}
	}
	// No CreateNamespace=true, unlike the seminar: the program creates the
	// app's namespace in every cluster before it registers the cluster, and
	// with that option Argo CD would read the Namespace object on every sync,
	// a right its identity does not have.
	policy.SyncOptions = []string{"ServerSideApply=true"}
	policy.Retry = Retry{Limit: 5, Backoff: Backoff{Duration: "10s", Factor: 2, MaxDuration: "5m"}}

	annotations := map[string]string{}
	keys := make([]string, 0, len(o.Annotations))
	for k := range o.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		annotations[k] = o.Annotations[k]
	}
	return applicationSet{
		APIVersion: "argoproj.io/v1alpha1",
		Kind:       "ApplicationSet",
		Metadata:   objectMeta{Name: name, Namespace: o.Namespace, Labels: map[string]string{platform.LabelManagedBy: platform.ManagedByPulumi}},
		Spec: Spec{
			GoTemplate:        true,
			GoTemplateOptions: []string{"missingkey=error"},
			Generators:        []generator{{Clusters: clusterGenerator{Selector: selector}}},
			Template: Template{
				Metadata: objectMeta{
					Name:        o.AppName + "-{{ .name }}",
					Labels:      map[string]string{platform.LabelEnv: "{{ .name }}"},
					Annotations: annotations,
				},
				Spec: applicationSpec{
					Project:     o.Project,
					Source:      Source{RepoURL: o.RepoURL, TargetRevision: "HEAD", Path: "manifests/{{ .name }}"},
					Destination: Destination{Server: "{{ .server }}", Namespace: o.AppNamespace},
					SyncPolicy:  policy,
				},
			},
			SyncPolicy: setPolicy,
		},
	}, nil
}
