package offline

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gitops-platform/gitops-platform/policy/guardrails"
)

// AmbientEnv lists the variables through which provider SDKs read the
// machine (a kubeconfig path, a token). The render must not depend on them.
var AmbientEnv = []string{"KUBECONFIG", "GITHUB_TOKEN", "GITHUB_OWNER", "PULUMI_CONFIG"}

// Command is `render -stack <name> -out <dir> [-project <dir>] [-kubeconfig <file>] [-preview] [-policy] [-show-secrets]`.
func Command(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stack := fs.String("stack", "", "the stack to render: dev, staging or prod (reads Pulumi.<stack>.yaml)")
	out := fs.String("out", "", "the directory to write resources.json, kubernetes/ and repos/ into")
	dir := fs.String("project", ".", "the directory that holds Pulumi.yaml")
	kubeconfig := fs.String("kubeconfig", "", "read the clusters' CA data from this kubeconfig, as pulumi up does (default: placeholders, nothing read)")
	showSecrets := fs.Bool("show-secrets", false, "write the values behind [secret] (placeholders and the stack files' plain values; secure: values stay masked)")
	policy := fs.Bool("policy", false, "also run the policy pack (policy/) over the render; mandatory violations fail")
	preview := fs.Bool("preview", false, "evaluate as `pulumi preview` of a new stack (a dry run): what only providers compute is written as "+UnknownValue)
	usage := fmt.Errorf("usage: render -stack <name> -out <dir> [-project <dir>] [-kubeconfig <file>] [-preview] [-policy] [-show-secrets]")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%w", err, usage)
	}
	if *stack == "" || *out == "" || fs.NArg() > 0 {
		return usage
	}
	for _, v := range AmbientEnv {
		os.Unsetenv(v)
	}
	evaluate := Evaluate
	if *preview {
		evaluate = EvaluatePreview
	}
	res, err := evaluate(*dir, *stack, *kubeconfig)
	if err != nil {
		return err // nothing is written for a stack that does not evaluate
	}
	res.ShowSecrets = *showSecrets
	if err := res.Write(*out); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprint(stdout, res.Summary())
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	if *policy {
		return runPolicy(res, stdout)
	}
	return nil
}

// runPolicy checks the render with the project's policy pack, as
// `pulumi preview --policy-pack policy` would check the stack.
func runPolicy(res *Result, stdout io.Writer) error {
	st, err := guardrails.StackFromConfig(res.Stack.Name, res.Stack.ConfigValue)
	if err != nil {
		return err
	}
	pack, err := guardrails.New(st)
	if err != nil {
		return err
	}
	violations, err := guardrails.Check(pack, res.AnalyzerResources())
	if err != nil {
		return err
	}
	for _, v := range violations {
		fmt.Fprintln(stdout, v)
	}
	if n := guardrails.Mandatory(violations); n > 0 {
		return fmt.Errorf("policy pack %s: %d mandatory violation(s) in stack %s", guardrails.PackName, n, res.Stack.Name)
	}
	fmt.Fprintf(stdout, "policy pack %s: no mandatory violation in stack %s (%d advisory)\n", guardrails.PackName, res.Stack.Name, len(violations))
	return nil
}
