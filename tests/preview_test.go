package tests

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// previewStack evaluates a stack as `pulumi preview` of a new stack does,
// with some config changed; a non-hub stack reads the outputs of a hub
// that is up (evaluated with the same changes).
func previewStack(t *testing.T, stack string, set map[string]string, secrets []string) *offline.Result {
	t.Helper()
	load := func(name string) offline.Stack {
		st, err := offline.LoadStack(projectDir, name)
		require.NoError(t, err)
		if name == "dev" {
			for k, v := range set {
				st.Config["gitops-platform:"+k] = v
			}
			for _, k := range secrets {
				st.Secrets = append(st.Secrets, "gitops-platform:"+k)
			}
		}
		return st
	}
	refs := map[string]resource.PropertyMap{}
	if stack != "dev" {
		hub, err := offline.Run(load("dev"), nil)
		require.NoError(t, err)
		refs["dev"] = hub.Outputs
	}
	st := load(stack)
	st.Preview = true
	res, err := offline.Run(st, refs)
	require.NoError(t, err, "preview of %s", stack)
	return res
}

// unknownPaths lists where a plain value holds offline.UnknownValue.
func unknownPaths(v any, at string) []string {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, offline.UnknownValue) {
			return []string{at}
		}
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, unknownPaths(e, at+"."+k)...)
		}
		return out
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, unknownPaths(e, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	}
	return nil
}

// previewUnknowns lists, per resource, what a preview does not know in
// the Kubernetes objects, the Helm releases' values and the files
// committed to repos: "<type> <name> <path>".
func previewUnknowns(res *offline.Result) []string {
	var out []string
	for _, r := range res.Render() {
		var paths []string
		switch {
		case r.Type == "kubernetes:helm.sh/v3:Release":
			paths = unknownPaths(r.Inputs["values"], "values")
		case r.Type == "github:index/repositoryFile:RepositoryFile":
			paths = unknownPaths(r.Inputs["content"], "content")
			paths = append(paths, unknownPaths(r.Inputs["file"], "file")...)
		case strings.HasPrefix(r.Type, "kubernetes:") && r.Inputs["kind"] != nil:
			paths = unknownPaths(r.Inputs, "")
		}
		for _, p := range paths {
			out = append(out, r.Type+" "+r.Name+" "+strings.TrimPrefix(p, "."))
		}
	}
	sort.Strings(out)
	return out
}

// fromTheCloud are the only values a preview of a new stack may not know,
// each computed by a provider when it creates the resource behind it
// (README: the offline render). Anything else unknown at preview is a
// value the program made unknown, and a real preview would show it as a
// change on every run.
var fromTheCloud = map[string]string{
	// A Secret's stringData is one value (the Kubernetes SDK makes it a
	// secret as a whole), unknown while any part of it is:
	// the argocd-manager token, which Kubernetes fills in;
	"kubernetes:core/v1:Secret <env>-registration stringData": "the ServiceAccount token",
	// Argo CD's read-only deploy key, made by the tls provider;
	"kubernetes:core/v1:Secret argocd-gitops-repo stringData": "the deploy key",
	// the ECR pull user's access key;
	"kubernetes:core/v1:Secret <env>-ecr-pull-aws stringData": "the IAM access key",
	// Grafana's admin password, made by the random provider.
	"kubernetes:core/v1:Secret monitoring-grafana-admin stringData": "Grafana's password",
	// The overlay's image: the ECR repository URL and the first image's tag.
	"github:index/repositoryFile:RepositoryFile <env>-overlay-kustomization content": "the ECR repository URL and the image's digest",
	// With argocdUrl: the webhook secret, made by the random provider.
	webhookSecretUnknown: "the webhook secret",
	// With argocdAdminEnabled: the bcrypt hash of the admin's password,
	// made by the random provider.
	"kubernetes:helm.sh/v3:Release argocd values.configs.secret.argocdServerAdminPassword": "the admin password's hash",
}

const webhookSecretUnknown = "kubernetes:helm.sh/v3:Release argocd values.configs.secret.githubSecret"

// TestPreviewKnowsWhatTheProgramMakes evaluates every stack as `pulumi
// preview` does (a dry run), with the stack files as they are and with
// argocdUrl and a Slack credential set on the hub, and fails when a
// Kubernetes object, Helm values or a repo file is unknown at preview
// beyond the values that come from the cloud.
func TestPreviewKnowsWhatTheProgramMakes(t *testing.T) {
	t.Parallel()
	variants := map[string]struct {
		set     map[string]string
		secrets []string
	}{
		"stack files": {},
		"argocdUrl and Slack": {
			set:     map[string]string{"argocdUrl": "https://argocd.example.com", "slackToken": "xoxb-preview"},
			secrets: []string{"slackToken"},
		},
	}
	for variant, v := range variants {
		for _, stack := range stacks {
			t.Run(variant+"/"+stack, func(t *testing.T) {
				t.Parallel()
				res := previewStack(t, stack, v.set, v.secrets)
				var unexpected []string
				for _, u := range previewUnknowns(res) {
					key := strings.ReplaceAll(u, stack+"-", "<env>-")
					_, ok := fromTheCloud[key]
					// Without argocdUrl there is no webhook, so no secret to wait for.
					if key == webhookSecretUnknown && v.set["argocdUrl"] == "" {
						ok = false
					}
					if !ok {
						unexpected = append(unexpected, u)
					}
				}
				assert.Empty(t, unexpected, "unknown at preview, though the program knows it")
			})
		}
	}
}

// TestPreviewRenderMarksUnknowns checks that a preview's render writes
// what the cloud computes as "[unknown]", secret or not, and that the
// update render of the same stack has no such value.
func TestPreviewRenderMarksUnknowns(t *testing.T) {
	t.Parallel()
	res := previewStack(t, "dev", nil, nil)
	unknowns := previewUnknowns(res)
	assert.Contains(t, unknowns, "kubernetes:core/v1:Secret dev-registration stringData", "a secret unknown is [unknown], not [secret]")
	assert.Contains(t, unknowns, "github:index/repositoryFile:RepositoryFile dev-overlay-kustomization content")
	assert.Empty(t, previewUnknowns(evaluate(t, "dev")), "an update's render knows every value (placeholders)")
}
