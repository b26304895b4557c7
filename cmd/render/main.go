// Command render writes what one stack of the program would create, without
// any cloud, cluster, token or network: the real program runs under the Pulumi
// SDK's mocks as a preview of a new stack.
//
//	go run ./cmd/render -stack dev -out /tmp/render
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gitops-platform/gitops-platform/internal/offline"
)

// ambient lists the variables through which provider SDKs read the machine
// (a kubeconfig path, a token). The render must not depend on them.
var ambient = []string{"KUBECONFIG", "GITHUB_TOKEN", "GITHUB_OWNER", "AWS_REGION", "AWS_PROFILE", "PULUMI_CONFIG"}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	stack := fs.String("stack", "", "the stack to render: dev, staging or prod (reads Pulumi.<stack>.yaml)")
	out := fs.String("out", "", "the directory to write resources.json, kubernetes/ and repos/ into")
	dir := fs.String("project", ".", "the directory that holds Pulumi.yaml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stack == "" || *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: render -stack <name> -out <dir> [-project <dir>]")
	}
	for _, v := range ambient {
		os.Unsetenv(v)
	}
	res, err := offline.Evaluate(*dir, *stack)
	if err != nil {
		return err
	}
	if err := res.Write(*out); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprint(stdout, res.Summary())
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
