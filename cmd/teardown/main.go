// Command teardown destroys stacks in the order given, the hub last, after
// checking all of them: `go run ./cmd/teardown prod staging dev` (make destroy).
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/gitops-platform/gitops-platform/internal/teardown"
)

type cli struct{}

func (cli) Output(args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("pulumi", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("pulumi %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (cli) Stream(args ...string) error {
	cmd := exec.Command("pulumi", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

func main() {
	if err := teardown.Run(cli{}, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
