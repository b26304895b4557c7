package guardrails

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Violation is one rule broken by one resource.
type Violation struct {
	Policy    string
	Mandatory bool
	URN       string
	Message   string
}

func (v Violation) String() string {
	level := "advisory"
	if v.Mandatory {
		level = "mandatory"
	}
	return fmt.Sprintf("[%s] %s: %s\n    %s", level, v.Policy, v.URN, strings.ReplaceAll(v.Message, "\n", "\n    "))
}

type recorder struct {
	policy    policyx.Policy
	urn       string
	mandatory bool
	out       *[]Violation
}

func (r recorder) ReportViolation(message, urn string) {
	if urn == "" {
		urn = r.urn
	}
	*r.out = append(*r.out, Violation{Policy: r.policy.Name(), Mandatory: r.mandatory, URN: urn, Message: message})
}

// Check runs every rule of the pack over resources, as the engine does
// during a preview (resource rules on each resource, stack rules on all of
// them), and returns the violations sorted by policy and resource. The
// tests and `make policy` use it on the offline render.
func Check(pack Pack, resources []policyx.AnalyzerResource) ([]Violation, error) {
	var out []Violation
	for _, p := range pack.Policies() {
		if p.EnforcementLevel() == policyx.EnforcementLevelDisabled {
			continue
		}
		mandatory := p.EnforcementLevel() == policyx.EnforcementLevelMandatory
		switch p := p.(type) {
		case policyx.ResourceValidationPolicy:
			for _, r := range resources {
				rec := recorder{policy: p, urn: r.URN, mandatory: mandatory, out: &out}
				if err := p.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: rec, Resource: r}); err != nil {
					return nil, fmt.Errorf("policy %s on %s: %w", p.Name(), r.URN, err)
				}
			}
		case policyx.StackValidationPolicy:
			rec := recorder{policy: p, mandatory: mandatory, out: &out}
			if err := p.Validate(context.Background(), policyx.StackValidationArgs{Manager: rec, Resources: resources}); err != nil {
				return nil, fmt.Errorf("policy %s: %w", p.Name(), err)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].URN < out[j].URN
	})
	return out, nil
}

// Mandatory counts the violations that stop an update.
func Mandatory(vs []Violation) int {
	n := 0
	for _, v := range vs {
		if v.Mandatory {
			n++
		}
	}
	return n
}
