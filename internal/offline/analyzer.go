package offline

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

// AnalyzerResources gives the recorded custom resources to a policy pack as
// the engine would during a preview: type, inputs (secrets kept as secrets),
// name and the protect option. Read resources and components are left out,
// as the engine analyzes neither.
func (res *Result) AnalyzerResources() []policyx.AnalyzerResource {
	var out []policyx.AnalyzerResource
	for _, r := range res.Resources {
		if !r.Custom || r.Read {
			continue
		}
		out = append(out, policyx.AnalyzerResource{
			Type:         r.Type,
			Name:         r.Name,
			URN:          "urn:pulumi:" + res.Stack.Name + "::" + res.Stack.Project + "::" + r.Type + "::" + r.Name,
			Properties:   resource.FromResourcePropertyMap(r.Inputs),
			Options:      pulumi.ResourceOptions{Protect: r.Protect},
			Parent:       r.Parent,
			Dependencies: r.Dependencies,
		})
	}
	return out
}

// ConfigValue reads one of the stack's config values by its full key, as
// a policy pack reads it from the engine.
func (st Stack) ConfigValue(key string) (string, bool) {
	v, ok := st.Config[key]
	return v, ok
}
