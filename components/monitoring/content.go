package monitoring

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed rules/*.yaml dashboards/*.json
var content embed.FS

// RuleGroup is a PrometheusRule group, as prometheus-operator takes it.
type RuleGroup struct {
	Name  string `yaml:"name" json:"name"`
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert" json:"alert"`
	Expr        string            `yaml:"expr" json:"expr"`
	For         string            `yaml:"for,omitempty" json:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// RuleGroups returns the alert groups a cluster gets: the app's everywhere,
// Argo CD's delivery alerts on the hub. Every rule is labelled
// platform=gitops-platform.
func RuleGroups(hub bool) ([]RuleGroup, error) {
	names := []string{"app"}
	if hub {
		names = append(names, "argocd")
	}
	var groups []RuleGroup
	for _, n := range names {
		b, err := content.ReadFile("rules/" + n + ".yaml")
		if err != nil {
			return nil, err
		}
		var g RuleGroup
		if err := yaml.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("rules %s: %w", n, err)
		}
		for i := range g.Rules { // Alertmanager sends the platform's own alerts to Slack by this label
			if g.Rules[i].Labels == nil {
				g.Rules[i].Labels = map[string]string{}
			}
			g.Rules[i].Labels[platformLabel] = platformLabelValue
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// Dashboard is a Grafana dashboard file.
type Dashboard struct {
	Name string // file name, also the ConfigMap key
	JSON string
}

// Dashboards returns the dashboards a cluster gets: the app's everywhere,
// Argo CD's delivery dashboard on the hub.
func Dashboards(hub bool) ([]Dashboard, error) {
	entries, err := content.ReadDir("dashboards")
	if err != nil {
		return nil, err
	}
	var out []Dashboard
	for _, e := range entries {
		if e.Name() == "argocd.json" && !hub {
			continue
		}
		b, err := content.ReadFile(path.Join("dashboards", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Dashboard{Name: e.Name(), JSON: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func dashboardSlug(name string) string { return strings.TrimSuffix(name, ".json") }
