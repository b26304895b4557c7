package argocd

// groupKind names a kind of resource in an AppProject.
type groupKind struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
}

// Destination is where a project may deploy.
type Destination struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
}

// appProjectSpec is the part of Argo CD's AppProject spec this platform sets.
type appProjectSpec struct {
	Description              string        `json:"description"`
	SourceRepos              []string      `json:"sourceRepos"`
	Destinations             []Destination `json:"destinations"`
	ClusterResourceWhitelist []groupKind   `json:"clusterResourceWhitelist"`
	// NamespaceResourceBlacklist are namespaced kinds no Application of
	// the project may create, whatever argocd-manager's rights.
	NamespaceResourceBlacklist []groupKind `json:"namespaceResourceBlacklist"`
}

// deniedKinds are what no commit to the gitops repo may create in the
// app's namespace: rights (RBAC) and the namespace's own limits.
var deniedKinds = []groupKind{
	{Group: "rbac.authorization.k8s.io", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
	{Group: "", Kind: "ResourceQuota"},
	{Group: "", Kind: "LimitRange"},
}

// projectSpec is the AppProject: one source (the gitops repo), one
// namespace on any registered cluster, and no cluster-scoped kind at all.
// The program creates the app's namespace in every cluster, so Argo CD
// never needs to create or change a Namespace.
func projectSpec(repo, appNamespace string) appProjectSpec {
	return appProjectSpec{
		Description:                "The app's environments, deployed from the gitops repo only.",
		SourceRepos:                []string{repo},
		Destinations:               []Destination{{Server: "*", Namespace: appNamespace}},
		ClusterResourceWhitelist:   []groupKind{},
		NamespaceResourceBlacklist: deniedKinds,
	}
}
