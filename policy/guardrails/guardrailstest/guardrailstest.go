// Package guardrailstest builds resources as the engine hands them to the
// policy pack, and runs the pack over them, for the pack's own tests and
// the program's.
package guardrailstest

import (
	"testing"

	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// Resource builds a resource as the engine hands it to a policy: props as
// given, the keys of secret as Pulumi secrets.
func Resource(typ string, props map[string]any, secret map[string]string, protect bool) policyx.AnalyzerResource {
	pm := resource.NewPropertyMapFromMap(props)
	for k, v := range secret {
		pm[resource.PropertyKey(k)] = resource.MakeSecret(resource.NewProperty(v))
	}
	return policyx.AnalyzerResource{
		Type: typ, Name: "r", URN: "urn:pulumi:test::gitops-platform::" + typ + "::r",
		Properties: resource.FromResourcePropertyMap(pm), Options: pulumi.ResourceOptions{Protect: protect},
	}
}

// Violations runs the pack for a stack (staging unless it names another)
// over resources and names each broken rule with its level:
// "<rule> mandatory: <message>". A pack that cannot run fails t.
func Violations(t testing.TB, st guardrails.Stack, rs ...policyx.AnalyzerResource) []string {
	t.Helper()
	if st.Environment == "" {
		st.Environment = "staging"
	}
	pack, err := guardrails.New(st)
	if err != nil {
		t.Fatalf("policy pack: %v", err)
	}
	vs, err := guardrails.Check(pack, rs)
	if err != nil {
		t.Fatalf("policy pack: %v", err)
	}
	var out []string
	for _, v := range vs {
		level := "advisory"
		if v.Mandatory {
			level = "mandatory"
		}
		out = append(out, v.Policy+" "+level+": "+v.Message)
	}
	return out
}
