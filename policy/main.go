// Command policy is the platform's CrossGuard policy pack:
//
//	pulumi preview --stack dev --policy-pack policy
//
// The rules live in ./guardrails; `make policy` runs them over the offline
// render without any cloud.
package main

import (
	"github.com/gitops-platform/gitops-platform/policy/guardrails"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func main() {
	if err := policyx.Main(guardrails.FromContext); err != nil {
		cmdutil.ExitError(err.Error())
	}
}
