//go:build tools

// Package argocd pins Argo CD for `go build github.com/argoproj/argo-cd/v3/cmd`.
package argocd

import _ "github.com/argoproj/argo-cd/v3/cmd"
