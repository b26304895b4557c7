// Package kubeapiserver only pins Kubernetes' version: `go build
// k8s.io/kubernetes/cmd/kube-apiserver` in this module builds the API server
// tests/apiserver starts.
package kubeapiserver
