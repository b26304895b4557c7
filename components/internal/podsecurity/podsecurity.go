// Package podsecurity is the Pod Security Standards level the platform's
// namespaces enforce, as namespace labels.
package podsecurity

// Version pins the standards to the Kubernetes release the platform runs on.
const Version = "v1.33"

// Restricted are the labels that enforce the restricted level (and audit
// and warn of it): no privileged Pod, no host namespaces or filesystem, no
// root, a seccomp profile.
func Restricted() map[string]string {
	labels := map[string]string{}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = "restricted"
		labels["pod-security.kubernetes.io/"+mode+"-version"] = Version
	}
	return labels
}
