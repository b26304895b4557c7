package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// standInPulumiEnv makes the test binary the walk's pulumi; its value is
// the directory the stand-in keeps its stacks in.
const standInPulumiEnv = "STANDIN_PULUMI_STATE"

// standInStack is what the stand-in keeps of a stack after `up`.
type standInStack struct {
	Outputs   map[string]string `json:"outputs"`
	Resources []struct {
		URN     string `json:"urn"`
		Type    string `json:"type"`
		Protect bool   `json:"protect"`
	} `json:"resources"`
}

// standInPulumi answers the pulumi commands the Makefile and cmd/teardown
// run. `up` runs the real program offline on the project in the working
// directory: the hub asks GitHub as `pulumi up` does (GITHUB_TOKEN,
// GITHUB_BASE_URL), a joining stack reads the hub's outputs as a
// StackReference does, and the policy pack judges the result; what it
// registered is kept for `stack output`, `stack export`, `stack ls` and
// `destroy`.
func standInPulumi(args []string, stdout, stderr io.Writer) int {
	dir := os.Getenv(standInPulumiEnv)
	f, err := os.OpenFile(filepath.Join(dir, "pulumi.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(f, "pulumi "+strings.Join(args, " "))
		f.Close()
	}
	flag := func(name string) string {
		if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	file := func(stack string) string { return filepath.Join(dir, stack+".json") }
	fail := func(err error) int { fmt.Fprintln(stderr, "error:", err); return 1 }
	switch {
	case len(args) >= 1 && args[0] == "login", len(args) >= 2 && args[0] == "stack" && args[1] == "select":
		return 0
	case args[0] == "up":
		res, err := standInUp(flag("--stack"))
		if err != nil {
			return fail(err)
		}
		var st standInStack
		st.Outputs = map[string]string{}
		for k, v := range res.Outputs {
			for v.IsSecret() {
				v = v.SecretValue().Element
			}
			if v.IsString() {
				st.Outputs[string(k)] = v.StringValue()
			}
		}
		for _, r := range res.Resources {
			st.Resources = append(st.Resources, struct {
				URN     string `json:"urn"`
				Type    string `json:"type"`
				Protect bool   `json:"protect"`
			}{fmt.Sprintf("urn:pulumi:%s::gitops-platform::%s::%s", flag("--stack"), r.Type, r.Name), r.Type, r.Protect})
		}
		b, _ := json.Marshal(st)
		if err := os.WriteFile(file(flag("--stack")), b, 0o644); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "Resources:\n    + %d created\n", len(res.Resources))
		return 0
	case args[0] == "stack" && args[1] == "output":
		var st standInStack
		b, err := os.ReadFile(file(flag("--stack")))
		if err != nil {
			return fail(err)
		}
		_ = json.Unmarshal(b, &st)
		fmt.Fprintln(stdout, st.Outputs[args[len(args)-1]])
		return 0
	case args[0] == "stack" && args[1] == "export":
		b, err := os.ReadFile(file(flag("--stack")))
		if err != nil {
			fmt.Fprintf(stderr, "error: no stack named '%s' found\n", flag("--stack"))
			return 255
		}
		var st standInStack
		_ = json.Unmarshal(b, &st)
		out, _ := json.Marshal(map[string]any{"deployment": map[string]any{"resources": st.Resources}})
		fmt.Fprintln(stdout, string(out))
		return 0
	case args[0] == "stack" && args[1] == "ls":
		var list []map[string]any
		for _, s := range stacks {
			b, err := os.ReadFile(file(s))
			if err != nil {
				continue
			}
			var st standInStack
			_ = json.Unmarshal(b, &st)
			list = append(list, map[string]any{"name": s, "resourceCount": len(st.Resources)})
		}
		out, _ := json.Marshal(list)
		fmt.Fprintln(stdout, string(out))
		return 0
	case args[0] == "destroy":
		if err := os.Remove(file(flag("--stack"))); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprintf(stderr, "stand-in pulumi: unexpected %v\n", args)
	return 2
}

// standInUp evaluates a stack of the project in the working directory as
// `pulumi up --policy-pack policy` would.
func standInUp(stack string) (*offline.Result, error) {
	load := func(name string) (offline.Stack, error) {
		st, err := offline.LoadStack(".", name)
		st.GitHub = infra.ReadGitHub
		return st, err
	}
	st, err := load(stack)
	if err != nil {
		return nil, err
	}
	refs := map[string]resource.PropertyMap{}
	if hubStack := st.Config["gitops-platform:hubStack"]; hubStack != "" {
		hub, err := load(hubStack)
		if err != nil {
			return nil, err
		}
		res, err := offline.Run(hub, nil)
		if err != nil {
			return nil, fmt.Errorf("hub %s: %w", hubStack, err)
		}
		refs[hubStack] = offline.ElideSecrets(res.Outputs)
	}
	res, err := offline.Run(st, refs)
	if err != nil {
		return nil, err
	}
	// The policy pack, as --policy-pack policy runs it, rendering into this
	// walk's own state directory: walks run in parallel.
	out := filepath.Join(os.Getenv(standInPulumiEnv), "render-"+stack)
	if err := offline.Command([]string{"-stack", stack, "-project", ".", "-out", out, "-policy"}, io.Discard); err != nil {
		return nil, fmt.Errorf("policy pack: %w", err)
	}
	return res, nil
}

// quickStart is a copy of what the quick start's commands use, with
// stand-ins for minikube, docker, kubectl, aws and pulumi, and GitHub's API.
type quickStart struct {
	dir, tools, state string
	github            *githubStandIn
	env               []string
}

func newQuickStart(t *testing.T, g *githubStandIn, withAWS bool) *quickStart {
	t.Helper()
	q := &quickStart{dir: t.TempDir(), tools: t.TempDir(), state: t.TempDir(), github: g}
	for _, p := range []string{"Makefile", "go.mod", "go.sum", "Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml",
		"scripts/lab", "scripts/preflight", "cmd/teardown/main.go", "internal/teardown/teardown.go", "internal/platform/platform.go"} {
		b, err := os.ReadFile(filepath.Join(projectDir, p))
		require.NoError(t, err, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(q.dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(q.dir, p), b, 0o755))
	}
	self, err := os.Executable()
	require.NoError(t, err)
	kubectl := "#!/bin/sh\n{ printf 'kubectl'; printf ' %s' \"$@\"; echo; } >>\"$LAB_LOG\"\ncase \"$*\" in\n" +
		"\"config get-contexts -o name\") printf 'dev\\nstaging\\nprod\\n' ;;\n" +
		"*nodeInfo.architecture*) printf amd64 ;;\n*port-forward*) ;;\n*) exit 2 ;;\nesac\n"
	tools := map[string]string{
		"minikube": labMinikube,
		"docker":   strings.Replace(labDocker, "case \"$1 $2\" in", "[ \"$1\" = info ] && exit 0\ncase \"$1 $2\" in", 1),
		"kubectl":  kubectl,
		"pulumi":   "#!/bin/sh\nexec " + self + " \"$@\"\n",
	}
	if withAWS {
		tools["aws"] = "#!/bin/sh\n[ \"$1 $2\" = \"sts get-caller-identity\" ] && echo '{\"Account\": \"123456789012\"}'\n"
	}
	for name, body := range tools {
		require.NoError(t, os.WriteFile(filepath.Join(q.tools, name), []byte(body), 0o755))
	}
	curl, err := exec.LookPath("curl")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(curl, filepath.Join(q.tools, "curl")))
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(q.state, "dev.net"), []byte("dev 192.168.49.2/24\n"), 0o644))
	q.env = []string{"PATH=" + q.tools + ":" + filepath.Dir(goBin) + ":/usr/bin:/bin", "HOME=" + os.Getenv("HOME"),
		"GOCACHE=" + os.Getenv("GOCACHE"), "GOMODCACHE=" + os.Getenv("GOMODCACHE"), "GOFLAGS=" + os.Getenv("GOFLAGS"),
		"GOPROXY=" + os.Getenv("GOPROXY"), "GOPATH=" + os.Getenv("GOPATH"),
		"LAB_LOG=" + filepath.Join(q.state, "calls.log"), "LAB_STATE=" + q.state, "LAB_SUBNET=192.168.49.0/24",
		standInPulumiEnv + "=" + q.state, "GITHUB_TOKEN=" + g.token, "GITHUB_BASE_URL=" + g.URL, "PULUMI_CONFIG_PASSPHRASE=walk"}
	return q
}

// make runs a make target in the copy, as the person does.
func (q *quickStart) make(t *testing.T, target string) string {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", target)
	cmd.Dir = q.dir
	cmd.Env = q.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make %s:\n%s", target, out)
	return string(out)
}

// set adds settings to the hub's stack file, as step 4 says.
func (q *quickStart) set(t *testing.T, owner string, lines ...string) {
	t.Helper()
	f := filepath.Join(q.dir, "Pulumi.dev.yaml")
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	s := strings.Replace(string(b), "gitops-platform:githubOwner: gitops-seminar", "gitops-platform:githubOwner: "+owner, 1)
	for _, l := range lines {
		s += "  gitops-platform:" + l + "\n"
	}
	require.NoError(t, os.WriteFile(f, []byte(s), 0o644))
}

func (q *quickStart) stack(t *testing.T, name string) standInStack {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(q.state, name+".json"))
	require.NoError(t, err, "stack %s was created", name)
	var st standInStack
	require.NoError(t, json.Unmarshal(b, &st))
	return st
}

// walk runs the quick start's commands in order and checks what each leaves.
func (q *quickStart) walk(t *testing.T) {
	t.Helper()
	out := q.make(t, "help")
	assert.Contains(t, out, "make <target>")
	assert.NoFileExists(t, filepath.Join(q.state, "pulumi.log"), "plain make runs nothing")
	out = q.make(t, "lab")
	assert.Contains(t, out, "next: make up")
	out = q.make(t, "preflight")
	assert.Contains(t, out, "preflight: ready for dev staging prod")
	out = q.make(t, "up")
	assert.Contains(t, out, "logging in to the local file backend")
	assert.Contains(t, out, "up: done. Open Argo CD with make argocd")
	for _, s := range stacks {
		assert.Contains(t, q.stack(t, s).Outputs, "grafanaOpen", s)
	}
	out = q.make(t, "argocd")
	assert.Contains(t, out, "Argo CD: http://localhost:8080 (user admin, password: pulumi stack output --stack dev --show-secrets argocdAdminPassword)")
	out = q.make(t, "grafana")
	assert.Contains(t, out, "Grafana: http://localhost:3000")
	calls, err := os.ReadFile(filepath.Join(q.state, "calls.log"))
	require.NoError(t, err)
	assert.Contains(t, string(calls), "kubectl --context dev -n argocd port-forward svc/argocd-server 8080:80")
	assert.Contains(t, string(calls), "kubectl --context dev -n monitoring port-forward svc/monitoring-grafana 3000:80")
}

// down tears the platform down and checks the order.
func (q *quickStart) down(t *testing.T) {
	t.Helper()
	q.make(t, "down")
	log, err := os.ReadFile(filepath.Join(q.state, "pulumi.log"))
	require.NoError(t, err)
	var destroyed []string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.HasPrefix(l, "pulumi destroy") {
			destroyed = append(destroyed, l[strings.LastIndex(l, " ")+1:])
		}
	}
	assert.Equal(t, []string{"prod", "staging", "dev"}, destroyed)
	for _, s := range stacks {
		assert.NoFileExists(t, filepath.Join(q.state, s+".json"))
	}
}

func types(st standInStack) []string {
	var out []string
	for _, r := range st.Resources {
		out = append(out, r.Type)
	}
	return out
}

// TestQuickStartOnGitHubFreeWithGHCR walks the quick start as a person
// with GitHub Free and no AWS account: make lab, the settings of step 4
// (publicRepos, registry: ghcr), make preflight, make up, make argocd,
// make grafana, make down. The stand-ins record a platform of three stacks
// with nothing of AWS, the first image pushed to ghcr.io.
func TestQuickStartOnGitHubFreeWithGHCR(t *testing.T) {
	t.Parallel()
	g := newGitHubStandIn(t, "octo-user", "repo, workflow, write:packages", map[string]githubAccount{"octo-user": {plan: "free"}})
	q := newQuickStart(t, g, false)
	q.set(t, "octo-user", "publicRepos: true", "registry: ghcr")
	q.walk(t)
	hub := q.stack(t, "dev")
	assert.Equal(t, "ghcr.io/octo-user/gitops-monitor", hub.Outputs["imageRepository"])
	for _, s := range stacks {
		for _, typ := range types(q.stack(t, s)) {
			assert.False(t, strings.HasPrefix(typ, "aws:"), "%s: %s", s, typ)
		}
	}
	assert.Contains(t, types(hub), "docker:index/image:Image")
	assert.Contains(t, types(q.stack(t, "prod")), "gitops-platform:pullsecret:StaticPullSecret")
	assert.Contains(t, g.asked, "/users/octo-user", "make up asked GitHub about the owner")
	q.down(t)
}

// TestQuickStartOnAPaidOrgWithECR walks the same commands for an
// organization on a paid plan with private repos and ECR.
func TestQuickStartOnAPaidOrgWithECR(t *testing.T) {
	t.Parallel()
	g := newGitHubStandIn(t, "alice", "repo, workflow", map[string]githubAccount{"alice": {plan: "pro"}, "octo-org": {org: true, plan: "team"}})
	q := newQuickStart(t, g, true)
	q.set(t, "octo-org")
	q.walk(t)
	hub := q.stack(t, "dev")
	assert.Contains(t, types(hub), "aws:ecr/repository:Repository")
	assert.Contains(t, types(q.stack(t, "staging")), "gitops-platform:pullsecret:PullSecret")
	assert.Contains(t, g.asked, "/orgs/octo-org", "make up read the organization's plan")
	q.down(t)
}
