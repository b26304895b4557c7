package tests

import (
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/gitops-platform/gitops-platform/policy/guardrails"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// BenchmarkEvaluate measures one full evaluation of the program per stack
// under mocks (config parse, every registration, outputs awaited). The hub's
// outputs for the joining stacks are computed once, outside the loop.
//
//	go test ./tests -run '^$' -bench Evaluate -benchmem
func BenchmarkEvaluate(b *testing.B) {
	hub := evaluate(b, "dev")
	for _, env := range stacks {
		st, err := offline.LoadStack(projectDir, env)
		if err != nil {
			b.Fatal(err)
		}
		refs := map[string]resource.PropertyMap{"dev": hub.Outputs}
		b.Run(env, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := offline.Run(st, refs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPolicyPack measures the policy pack over the hub's render, the
// largest stack: building the pack and running every rule on every
// resource, as `render -policy` does.
//
//	go test ./tests -run '^$' -bench PolicyPack -benchmem
func BenchmarkPolicyPack(b *testing.B) {
	res := evaluate(b, "dev")
	st, err := guardrails.StackFromConfig("dev", res.Stack.ConfigValue)
	if err != nil {
		b.Fatal(err)
	}
	resources := res.AnalyzerResources()
	b.ReportAllocs()
	for b.Loop() {
		pack, err := guardrails.New(st)
		if err != nil {
			b.Fatal(err)
		}
		if vs, err := guardrails.Check(pack, resources); err != nil || len(vs) > 0 {
			b.Fatal(err, vs)
		}
	}
}
