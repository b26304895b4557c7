package tests

import (
	"context"
	"os"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"
)

// projectDir holds Pulumi.yaml and the stack files.
const projectDir = ".."

var stacks = []string{"dev", "staging", "prod"}

func TestMain(m *testing.M) {
	// The quick start's walk runs this binary as its stand-in for pulumi.
	if os.Getenv(standInPulumiEnv) != "" {
		os.Exit(standInPulumi(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Provider SDKs read these from the machine; the program's behaviour
	// under test must not depend on who runs the tests.
	for _, v := range offline.AmbientEnv {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

// evaluate runs the whole program for one of the project's stacks.
func evaluate(t testing.TB, stack string) *offline.Result {
	t.Helper()
	res, err := offline.Evaluate(projectDir, stack, "")
	require.NoError(t, err, "stack %s", stack)
	return res
}

// evaluateWith runs the program for a stack file with some config changed;
// a joining stack reads the project's hub.
func evaluateWith(t testing.TB, stack string, set map[string]string, secrets ...string) (*offline.Result, error) {
	t.Helper()
	refs := map[string]resource.PropertyMap{}
	if stack != "dev" {
		refs["dev"] = offline.ElideSecrets(evaluate(t, "dev").Outputs)
	}
	return evaluateStack(t, stack, set, refs, secrets...)
}

func byType(res *offline.Result, typ string) []*offline.Resource {
	var out []*offline.Resource
	for _, r := range res.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func one(t testing.TB, res *offline.Result, typ string) *offline.Resource {
	t.Helper()
	found := byType(res, typ)
	require.Len(t, found, 1, "resources of type %s in %s", typ, res.Stack.Name)
	return found[0]
}

func named(t testing.TB, res *offline.Result, typ, name string) *offline.Resource {
	t.Helper()
	for _, r := range byType(res, typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %s in %s", typ, name, res.Stack.Name)
	return nil
}

// path reads a nested input, e.g. path(r.Inputs, "metadata", "labels").
func path(m resource.PropertyMap, keys ...string) resource.PropertyValue {
	v := resource.NewProperty(m)
	for _, k := range keys {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v
}

func await(t testing.TB, o pulumi.Output) internals.UnsafeAwaitOutputResult {
	t.Helper()
	r, err := internals.UnsafeAwaitOutput(context.Background(), o)
	require.NoError(t, err)
	return r
}
