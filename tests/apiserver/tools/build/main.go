// Command build builds the servers the test tiers run into their cache
// before any test starts (`make tier-tools`), a line per tool: what it
// builds, for how long it ran, or that the cache already has it.
//
//	go run ./tools/build [tier ...]   (tiers: apiserver, live; none: both)
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tier-tools:", err)
		os.Exit(1)
	}
}

// run builds the tools of the tiers named (every tool: none named) that
// the cache lacks, saying so on out.
func run(tiers []string, out io.Writer) error {
	for _, tier := range tiers {
		if tier != "apiserver" && tier != "live" {
			return fmt.Errorf("unknown tier %q: want apiserver or live", tier)
		}
	}
	cache, err := tools.CacheDir()
	if err != nil {
		return err
	}
	start, built := time.Now(), 0
	for _, t := range tools.All {
		if len(tiers) > 0 && !slices.ContainsFunc(t.Tiers, func(tier string) bool { return slices.Contains(tiers, tier) }) {
			continue
		}
		if _, ok := t.Path(cache); ok {
			fmt.Fprintf(out, "tier-tools: %s %s: cached\n", t.Name, t.Version)
			continue
		}
		if _, err := t.Build(cache, out); err != nil {
			return err
		}
		built++
	}
	if built > 0 {
		fmt.Fprintf(out, "tier-tools: %d built in %s, kept in %s for later runs\n", built, time.Since(start).Round(time.Second), cache)
	} else {
		fmt.Fprintf(out, "tier-tools: every tool from the cache (%s)\n", cache)
	}
	return nil
}
