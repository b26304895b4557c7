// Package teardown destroys the platform's stacks safely: it reads every
// stack's state first and refuses, before anything is deleted, when a stack
// holds protected resources or the hub is not the last to go.
package teardown

import (
	"encoding/json"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"io"
	"slices"
	"strings"
)

// Pulumi runs the pulumi CLI; tests give a fake.
type Pulumi interface {
	// Output runs pulumi with args and returns its standard output.
	Output(args ...string) ([]byte, error)
	// Stream runs pulumi with args, its output going to the user.
	Stream(args ...string) error
}

// Usage is what `go run ./cmd/teardown --help` prints.
const Usage = `usage: go run ./cmd/teardown <stack>... (make destroy: prod staging dev)

Destroys the stacks in the order given, the hub last. Every stack's state is
read first; nothing is destroyed when one holds a protected resource, or
when the hub is not the last named. A stack that does not exist is skipped.
`

// Types the checks look for.
const (
	typeArgoCD = platform.TypeArgoCD
	typeECR    = platform.TypeECRRepository
)

type state struct {
	Deployment struct {
		Resources []struct {
			URN     string         `json:"urn"`
			Type    string         `json:"type"`
			Protect bool           `json:"protect"`
			Inputs  map[string]any `json:"inputs"`
		} `json:"resources"`
	} `json:"deployment"`
}

// listed is one stack as `pulumi stack ls --json` shows it.
type listed struct {
	Name          string `json:"name"`
	ResourceCount *int   `json:"resourceCount"`
}

// Run tears down stacks in the order given (make destroy: prod, staging,
// dev). Every stack is checked before the first destroy.
func Run(p Pulumi, stacks []string, out io.Writer) error {
	if len(stacks) == 0 {
		return fmt.Errorf("teardown: name the stacks to destroy, the hub last (e.g. prod staging dev)\n%s", Usage)
	}
	for _, s := range stacks {
		if s == "-h" || s == "-help" || s == "--help" || s == "help" {
			fmt.Fprint(out, Usage)
			return nil
		}
		if strings.HasPrefix(s, "-") {
			return fmt.Errorf("teardown: unknown flag %s\n%s", s, Usage)
		}
	}
	var refusals []string
	var todo []string
	hub := ""
	for _, s := range stacks {
		raw, err := p.Output("stack", "export", "--stack", s)
		if err != nil {
			if strings.Contains(string(raw)+err.Error(), "no stack named") {
				fmt.Fprintf(out, "stack %s does not exist: nothing to destroy\n", s)
				continue
			}
			return fmt.Errorf("teardown: cannot read the state of stack %s (nothing was destroyed): %w", s, err)
		}
		var st state
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("teardown: stack %s: the exported state is not JSON (nothing was destroyed): %w", s, err)
		}
		todo = append(todo, s)
		for _, r := range st.Deployment.Resources {
			if r.Type == typeArgoCD {
				hub = s
			}
			if r.Protect {
				refusals = append(refusals, fmt.Sprintf("stack %s: %s is protected; to let it go, set registryProtect: false and run "+
					"`pulumi up --stack %s`, or `pulumi state unprotect --stack %s '%s'`", s, r.URN, s, s, r.URN))
			}
			if r.Type == typeECR && r.Inputs["forceDelete"] != true {
				fmt.Fprintf(out, "stack %s: the ECR repository keeps its images (registryForceDelete: false): "+
					"the destroy stops at it while it holds images; empty it yourself or set registryForceDelete: true and run `pulumi up` first\n", s)
			}
		}
	}
	if hub != "" {
		refusals = append(refusals, hubLast(p, hub, todo)...)
	}
	if len(refusals) > 0 {
		return fmt.Errorf("teardown refused, nothing was destroyed:\n  %s", strings.Join(refusals, "\n  "))
	}
	for _, s := range todo {
		fmt.Fprintf(out, "destroying stack %s\n", s)
		if err := p.Stream("destroy", "--yes", "--stack", s); err != nil {
			return fmt.Errorf("teardown: destroying stack %s failed (stacks after it were left alone; README: Tear down, stuck finalizers): %w", s, err)
		}
	}
	return nil
}

// hubLast refuses a teardown that would take the hub (it runs Argo CD)
// before an environment registered with it: one named after it, or one
// that still has resources and is not named before it.
func hubLast(p Pulumi, hub string, todo []string) []string {
	at := slices.Index(todo, hub)
	var refusals []string
	if after := todo[at+1:]; len(after) > 0 {
		refusals = append(refusals, fmt.Sprintf("stack %s is the hub (it runs Argo CD): destroy it last, after %s", hub, strings.Join(after, ", ")))
	}
	raw, err := p.Output("stack", "ls", "--json")
	if err != nil {
		return append(refusals, fmt.Sprintf("stack %s is the hub, and the other stacks could not be listed to check they are gone: %v", hub, err))
	}
	var all []listed
	if err := json.Unmarshal(raw, &all); err != nil {
		return append(refusals, fmt.Sprintf("stack %s is the hub, and `pulumi stack ls --json` was not JSON: %v", hub, err))
	}
	for _, s := range all {
		if s.Name == hub || slices.Contains(todo, s.Name) || s.ResourceCount == nil || *s.ResourceCount == 0 {
			continue
		}
		refusals = append(refusals, fmt.Sprintf("stack %s is the hub, but stack %s still has %d resources registered with it: "+
			"destroy %s first (make destroy does prod, staging, then the hub)", hub, s.Name, *s.ResourceCount, s.Name))
	}
	return refusals
}
