// Package chartsource says where a Helm chart comes from: a Helm repository
// over https or an OCI registry, with optional credentials, in the form the
// Helm Release resource takes.
package chartsource

import (
	"fmt"
	"strings"

	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Source is a chart repository and the credentials to read it.
type Source struct {
	// Repository is an https:// Helm repository or an oci:// registry path
	// (the chart's name is appended to it).
	Repository string
	Username   string
	// Password is a Pulumi secret; nil without credentials.
	Password pulumi.StringInput
}

// Check refuses a repository that is neither https:// nor oci://, and half
// a credential.
func (s Source) Check() error {
	if !strings.HasPrefix(s.Repository, "https://") && !strings.HasPrefix(s.Repository, "oci://") {
		return fmt.Errorf("chart repository %q is neither an https:// Helm repository nor an oci:// registry", s.Repository)
	}
	if (s.Username == "") != (s.Password == nil) {
		return fmt.Errorf("chart repository %s: a username needs a password and a password a username", s.Repository)
	}
	return nil
}

// Chart returns the Release's chart and repository options for chart: the
// name and the repository for a Helm repository, the full oci:// reference
// for a registry.
func (s Source) Chart(chart string) (pulumi.StringInput, *helmv3.RepositoryOptsArgs) {
	opts := &helmv3.RepositoryOptsArgs{}
	ref := pulumi.String(chart)
	if strings.HasPrefix(s.Repository, "oci://") {
		ref = pulumi.String(strings.TrimSuffix(s.Repository, "/") + "/" + chart)
	} else {
		opts.Repo = pulumi.String(s.Repository)
	}
	if s.Username != "" {
		opts.Username = pulumi.String(s.Username)
		opts.Password = pulumi.ToSecret(s.Password).(pulumi.StringOutput)
	}
	return ref, opts
}
