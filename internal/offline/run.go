package offline

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/gitops-platform/gitops-platform/components/image"
	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Stack is one stack's configuration as the Pulumi CLI would hand it to the
// program: full keys to string values, and the keys that are secret.
type Stack struct {
	Project string
	Name    string
	Config  map[string]string
	Secrets []string
	// Kubeconfig, when set, is read for the clusters' CA data as `pulumi up`
	// would; when empty nothing is read and the values are placeholders.
	Kubeconfig string
	// Preview evaluates the program as `pulumi preview` of a new stack does
	// (a dry run): what providers compute is unknown, and so is everything
	// made from it. The render writes such a value as UnknownValue.
	Preview bool
	// GitHub, when set, answers the hub's questions to GitHub (its plan,
	// the token's scopes); unset, GitHub is not asked (see NotAskedGitHub).
	GitHub infra.GitHubReader
}

// GitHubTokenPlaceholder stands in for the token `pulumi up` acts with.
const GitHubTokenPlaceholder = "[GitHub token of pulumi up]"

// NotAskedGitHub answers for GitHub in the offline run: nothing is known of
// the owner's plan, so no plan is checked, and the token is a placeholder.
func NotAskedGitHub(*pulumi.Context, string) (*infra.GitHubAccess, error) {
	return &infra.GitHubAccess{Token: infra.NewSecret(GitHubTokenPlaceholder)}, nil
}

// KubeconfigPlaceholder stands in for what only the kubeconfig knows.
func KubeconfigPlaceholder(context string) string {
	return "[computed: CA of kube context " + context + ", read from the kubeconfig by pulumi up]"
}

func (s Stack) kubeconfigReader() infra.KubeconfigReader {
	if s.Kubeconfig == "" {
		return func(_, context string) (*infra.ClusterAccess, error) {
			return &infra.ClusterAccess{CAData: KubeconfigPlaceholder(context)}, nil
		}
	}
	return func(_, context string) (*infra.ClusterAccess, error) {
		return infra.ReadKubeconfig(s.Kubeconfig, context)
	}
}

// Result is what one offline run of the program produced.
type Result struct {
	Stack     Stack
	Resources []*Resource
	// Outputs are the stack's exports, as a StackReference would read them.
	Outputs  resource.PropertyMap
	Warnings []string
	// WarningOn is the URN of the resource a warning is attached to
	// (pulumi.LogArgs.Resource), for warnings that are.
	WarningOn map[string]string
	// ShowSecrets writes the values behind "[secret]": placeholders and the
	// stack files' plain values only, since a `secure:` value is never
	// decrypted. The API-server test tier needs them (a cluster Secret's
	// server and name).
	ShowSecrets bool
}

// Run evaluates the program for one stack as `pulumi up` of a new stack
// would, with stackOutputs answering its StackReferences. Unless
// stack.Preview, it is not a dry run: every computed value gets a
// "[computed …]" placeholder (see computedOutputs), so what depends on it
// is rendered in full.
func Run(stack Stack, stackOutputs map[string]resource.PropertyMap) (*Result, error) {
	return RunProgram(stack, stackOutputs, infra.Run)
}

// RunProgram is Run for any program: tests use it to run one component.
// When the program fails, the result still holds what it registered.
func RunProgram(stack Stack, stackOutputs map[string]resource.PropertyMap, program pulumi.RunFunc) (*Result, error) {
	rec := &Recorder{StackOutputs: stackOutputs, Preview: stack.Preview}
	addr, stop, err := serve(rec, stack.Project, stack.Name)
	if err != nil {
		return nil, err
	}
	defer stop()
	pctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{
		Project:          stack.Project,
		Stack:            stack.Name,
		Config:           stack.Config,
		ConfigSecretKeys: stack.Secrets,
		DryRun:           stack.Preview,
		MonitorAddr:      addr,
		EngineAddr:       addr,
	})
	if err != nil {
		return nil, fmt.Errorf("offline context: %w", err)
	}
	defer pctx.Close()
	logs := &logRecorder{}
	pctx.Log = logs

	keys := make([]string, 0, len(stack.Config))
	for k := range stack.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pctx = infra.WithConfigKeys(pctx, keys)
	pctx = infra.WithKubeconfigReader(pctx, stack.kubeconfigReader())
	pctx = image.WithoutBuildContext(pctx)
	github := stack.GitHub
	if github == nil {
		github = NotAskedGitHub
	}
	pctx = infra.WithGitHubReader(pctx, github)

	var exports map[string]pulumi.Input
	err = pulumi.RunWithContext(pctx, func(ctx *pulumi.Context) error {
		if err := ctx.RegisterStackTransformation(rec.transformation); err != nil {
			return err
		}
		err := program(ctx)
		exports = ctx.GetCurrentExportMap()
		return err
	})
	if err != nil {
		return &Result{Stack: stack, Resources: rec.Resources(), Warnings: logs.warnings(), WarningOn: logs.attached()}, err
	}
	outputs, err := awaitExports(pctx.Context(), exports)
	if err != nil {
		return nil, err
	}
	return &Result{Stack: stack, Resources: rec.Resources(), Outputs: outputs, Warnings: logs.warnings(), WarningOn: logs.attached()}, nil
}

func awaitExports(ctx context.Context, exports map[string]pulumi.Input) (resource.PropertyMap, error) {
	out := resource.PropertyMap{}
	for name, in := range exports {
		o, ok := in.(pulumi.Output)
		if !ok {
			o = pulumi.ToOutput(in)
		}
		r, err := internals.UnsafeAwaitOutput(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		v := resource.NewPropertyValue(r.Value)
		if !r.Known {
			v = resource.MakeComputed(resource.NewProperty(""))
		}
		if r.Secret {
			v = resource.MakeSecret(v)
		}
		out[resource.PropertyKey(name)] = v
	}
	return out, nil
}

// logRecorder keeps what the program logs; the mock engine drops it.
type logRecorder struct {
	mu   sync.Mutex
	warn []string
	// on is the URN of the resource each warning is attached to.
	on map[string]string
}

func (l *logRecorder) Debug(string, *pulumi.LogArgs) error { return nil }
func (l *logRecorder) Info(string, *pulumi.LogArgs) error  { return nil }
func (l *logRecorder) Error(msg string, _ *pulumi.LogArgs) error {
	return l.Warn("error: "+msg, nil)
}

func (l *logRecorder) Warn(msg string, args *pulumi.LogArgs) error {
	urn := ""
	if args != nil && args.Resource != nil {
		res, err := internals.UnsafeAwaitOutput(context.Background(), args.Resource.URN())
		if err != nil {
			return err
		}
		urn = fmt.Sprint(res.Value)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warn = append(l.warn, msg)
	if urn != "" {
		if l.on == nil {
			l.on = map[string]string{}
		}
		l.on[msg] = urn
	}
	return nil
}

// attached returns the URN each warning is attached to, if any.
func (l *logRecorder) attached() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for k, v := range l.on {
		out[k] = v
	}
	return out
}

func (l *logRecorder) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.warn...)
}
