// Builds etcd for the API-server test tier (tests/apiserver/); kept out of the
// project's go.mod so the program's dependency graph stays small.
module github.com/gitops-platform/gitops-platform/tests/apiserver/tools/etcd

go 1.26.6

require go.etcd.io/etcd/server/v3 v3.5.21
