// Package etcd only pins etcd's version: `go build go.etcd.io/etcd/server/v3`
// in this module builds the binary tests/apiserver starts.
package etcd
