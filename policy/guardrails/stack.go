// Package guardrails is the platform's CrossGuard policy pack: the rules a
// stack of gitops-platform must keep, whoever edits the program. The pack
// runs in `pulumi preview --policy-pack policy` and, over the offline render,
// in `make policy` and the tests.
package guardrails

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the project's config namespace, where the pack reads how a
// stack is marked.
const Namespace = "gitops-platform"

// Stack is what the rules need to know about the stack under analysis, from
// its config.
type Stack struct {
	Name        string
	Environment string
	// LocalLab turns the cluster TLS rule advisory (a minikube lab).
	LocalLab bool
	// ProductionData requires the registry to survive a destroy.
	ProductionData bool
	// PublicRepos allows public GitHub repos.
	PublicRepos bool
}

// StackFromConfig reads a stack's marks from its config ("gitops-platform:key"
// keys). A stack without an environment is not one of this project's: the
// pack refuses it rather than judge it by the wrong rules.
func StackFromConfig(name string, get func(key string) (string, bool)) (Stack, error) {
	env, _ := get(Namespace + ":environment")
	if env == "" {
		return Stack{}, fmt.Errorf("policy pack %s: stack %q has no %s:environment in its config, so it is not a stack of this project; "+
			"run the pack from the project directory on one of its stacks (a Pulumi.<stack>.yaml with environment set), "+
			"e.g. `pulumi preview --stack dev --policy-pack policy`", PackName, name, Namespace)
	}
	s := Stack{Name: name, Environment: env}
	for key, dst := range map[string]*bool{"localLab": &s.LocalLab, "productionData": &s.ProductionData, "publicRepos": &s.PublicRepos} {
		raw, ok := get(Namespace + ":" + key)
		if !ok || raw == "" {
			continue
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return Stack{}, fmt.Errorf("policy pack %s: stack %q: %s:%s is %q, expected true or false", PackName, name, Namespace, key, raw)
		}
		*dst = b
	}
	return s, nil
}

// FromContext builds the pack for the stack the engine analyzes; it is what
// policyx.Main calls.
func FromContext(ctx *pulumi.Context) (Pack, error) {
	s, err := StackFromConfig(ctx.Stack(), ctx.GetConfig)
	if err != nil {
		return nil, err
	}
	return New(s)
}
