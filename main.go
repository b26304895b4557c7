// gitops-platform stands up a GitOps delivery platform, one stack per environment.
package main

import (
	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(infra.Run) }
