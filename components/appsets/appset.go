// Package appsets builds the two ApplicationSets: one for environments that
// Argo CD syncs on its own, one for those a person syncs.
package appsets

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"sort"
)

// ApplicationSet is the part of Argo CD's ApplicationSet this platform sets.
type ApplicationSet struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       Spec       `json:"spec"`
}

// ObjectMeta is a Kubernetes object's name, namespace, labels and annotations.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec of an ApplicationSet.
type Spec struct {
	GoTemplate        bool              `json:"goTemplate"`
	GoTemplateOptions []string          `json:"goTemplateOptions"`
	Generators        []Generator       `json:"generators"`
	Template          Template          `json:"template"`
	SyncPolicy        *AppSetSyncPolicy `json:"syncPolicy,omitempty"`
}

// AppSetSyncPolicy is what the ApplicationSet does to its Applications.
type AppSetSyncPolicy struct {
	// PreserveResourcesOnDeletion: deleting the ApplicationSet (or an
	// Application it generated) leaves the workloads running.
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion"`
}

// Generator is a cluster generator selecting registered clusters by label.
type Generator struct {
	Clusters ClusterGenerator `json:"clusters"`
}

// ClusterGenerator selects cluster Secrets.
type ClusterGenerator struct {
	Selector LabelSelector `json:"selector"`
}

// LabelSelector matches labels.
type LabelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []Requirement     `json:"matchExpressions,omitempty"`
}

// Requirement is one label selector expression.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// Template is the Application each selected cluster gets.
type Template struct {
	Metadata ObjectMeta      `json:"metadata"`
	Spec     ApplicationSpec `json:"spec"`
}

// ApplicationSpec of a templated Application.
type ApplicationSpec struct {
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

// Options build one ApplicationSet.
type Options struct {
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

// Build returns the ApplicationSet for one sync mode. The cluster generator
// gives each registered cluster's Secret to the template: .name is the
// environment, .server its API server.
func Build(o Options) (ApplicationSet, error) {
	if o.Project == "" || o.Project == "default" {
		return ApplicationSet{}, fmt.Errorf("applicationset: project %q: use the platform's own project, never default", o.Project)
	}
	sync := platform.SyncAuto
	policy := SyncPolicy{Automated: &Automated{Prune: true, SelfHeal: true}}
	selector := LabelSelector{
		MatchLabels:      map[string]string{platform.LabelSync: sync},
		MatchExpressions: []Requirement{{Key: platform.LabelEnv, Operator: "NotIn", Values: []string{platform.ProdEnvironment}}},
	}
	if o.Manual {
		sync = platform.SyncManual
		policy.Automated = nil
		selector = LabelSelector{MatchLabels: map[string]string{platform.LabelSync: sync}}
	}
	name := o.AppName + "-" + sync // gitops-monitor-auto and gitops-monitor-manual, as the seminar names them
	var setPolicy *AppSetSyncPolicy
	if o.Manual {
		// Deleting or replacing the manual ApplicationSet deletes prod's
		// Application, and through its finalizer prod's workloads, unless
		// told to keep them. Prod's workloads go only on purpose: with the
		// prod stack's destroy, which deletes the app's namespace (README).
		setPolicy = &AppSetSyncPolicy{PreserveResourcesOnDeletion: true}
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
	return ApplicationSet{
		APIVersion: "argoproj.io/v1alpha1",
		Kind:       "ApplicationSet",
		Metadata:   ObjectMeta{Name: name, Namespace: o.Namespace, Labels: map[string]string{platform.LabelManagedBy: platform.ManagedByPulumi}},
		Spec: Spec{
			GoTemplate:        true,
			GoTemplateOptions: []string{"missingkey=error"},
			Generators:        []Generator{{Clusters: ClusterGenerator{Selector: selector}}},
			Template: Template{
				Metadata: ObjectMeta{
					Name:        o.AppName + "-{{ .name }}",
					Labels:      map[string]string{platform.LabelEnv: "{{ .name }}"},
					Annotations: annotations,
				},
				Spec: ApplicationSpec{
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
