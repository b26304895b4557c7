// Command render writes what one stack of the program would create, without
// any cloud, cluster, token or network: the real program runs under the Pulumi
// SDK's mocks, with placeholders for what only the cloud knows.
//
//	go run ./cmd/render -stack dev -out /tmp/render
package main

import (
	"fmt"
	"os"

	"github.com/gitops-platform/gitops-platform/internal/offline"
)

func main() {
	if err := offline.Command(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}
