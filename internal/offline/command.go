package offline

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// AmbientEnv lists the variables through which provider SDKs read the
// machine (a kubeconfig path, a token). The render must not depend on them.
var AmbientEnv = []string{"KUBECONFIG", "GITHUB_TOKEN", "GITHUB_OWNER", "PULUMI_CONFIG"}

// Command is `render -stack <name> -out <dir> [-project <dir>] [-kubeconfig <file>]`.
func Command(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stack := fs.String("stack", "", "the stack to render: dev, staging or prod (reads Pulumi.<stack>.yaml)")
	out := fs.String("out", "", "the directory to write resources.json, kubernetes/ and repos/ into")
	dir := fs.String("project", ".", "the directory that holds Pulumi.yaml")
	kubeconfig := fs.String("kubeconfig", "", "read the clusters' CA data from this kubeconfig, as pulumi up does (default: placeholders, nothing read)")
	usage := fmt.Errorf("usage: render -stack <name> -out <dir> [-project <dir>] [-kubeconfig <file>]")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%w", err, usage)
	}
	if *stack == "" || *out == "" || fs.NArg() > 0 {
		return usage
	}
	for _, v := range AmbientEnv {
		os.Unsetenv(v)
	}
	res, err := Evaluate(*dir, *stack, *kubeconfig)
	if err != nil {
		return err // nothing is written for a stack that does not evaluate
	}
	if err := res.Write(*out); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprint(stdout, res.Summary())
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
