package argocd

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// SSO kinds: Argo CD's bundled Dex with its GitHub connector, or an
// external OIDC issuer.
const (
	SSOGitHub = "github"
	SSOOIDC   = "oidc"
)

// Keys of argocd-secret that hold the SSO client secret; dex.config and
// oidc.config name them as $<key>.
const (
	SecretKeyDexGitHub = "dex.github.clientSecret"
	SecretKeyOIDC      = "oidc.clientSecret"
)

// SSO is Argo CD's single sign-on; the zero value is none.
type SSO struct {
	Kind     string // "", SSOGitHub or SSOOIDC
	ClientID string
	// GitHubOrg is the only organization whose members may log in, and
	// GitHubTeams, when set, the only teams of it (slugs).
	GitHubOrg   string
	GitHubTeams []string
	// Issuer and GroupsClaim are the OIDC issuer and the claim that lists
	// a person's groups.
	Issuer      string
	GroupsClaim string
}

// SecretKey is the argocd-secret key of the client secret; empty without SSO.
func (s SSO) SecretKey() string {
	switch s.Kind {
	case SSOGitHub:
		return SecretKeyDexGitHub
	case SSOOIDC:
		return SecretKeyOIDC
	}
	return ""
}

// scope is the claim Argo CD's RBAC reads groups from: Dex writes "groups".
func (s SSO) scope() string {
	if s.Kind == SSOOIDC && s.GroupsClaim != "" {
		return s.GroupsClaim
	}
	return "groups"
}

// cm returns the argocd-cm entries of the SSO: dex.config or oidc.config,
// whose client secret is a $reference to argocd-secret.
func (s SSO) cm() (map[string]string, error) {
	var doc any
	key := ""
	switch s.Kind {
	case "":
		return nil, nil
	case SSOGitHub:
		org := map[string]any{"name": s.GitHubOrg}
		if len(s.GitHubTeams) > 0 {
			org["teams"] = s.GitHubTeams
		}
		key, doc = "dex.config", map[string]any{"connectors": []any{map[string]any{
			"type": "github", "id": "github", "name": "GitHub",
			"config": map[string]any{
				"clientID":     s.ClientID,
				"clientSecret": "$" + SecretKeyDexGitHub,
				"orgs":         []any{org},
				// Groups are org:team-slug, stable when a team is renamed.
				"teamNameField": "slug",
			},
		}}}
	case SSOOIDC:
		scopes := []string{"openid", "profile", "email"}
		if s.scope() == "groups" {
			scopes = append(scopes, "groups")
		}
		key, doc = "oidc.config", map[string]any{
			"name": "SSO", "issuer": s.Issuer, "clientID": s.ClientID, "clientSecret": "$" + SecretKeyOIDC,
			"requestedScopes":        scopes,
			"requestedIDTokenClaims": map[string]any{s.scope(): map[string]any{"essential": true}},
		}
	default:
		return nil, fmt.Errorf("argocd: unknown SSO kind %q", s.Kind)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return map[string]string{key: string(b)}, nil
}

// Roles of the platform's RBAC policy, besides Argo CD's built-in ones.
const (
	roleDeployer     = "role:deployer"
	roleProdDeployer = "role:prod-deployer"
)

// RBAC is who may do what in Argo CD, by SSO group. Everyone who can log
// in may read (policy.default); nobody else may change anything.
type RBAC struct {
	// Admins get role:admin.
	Admins []string
	// Deployers may sync (and so roll back) the Applications of Apps.
	Deployers []string
	// ProdDeployers are the only ones who may sync, roll back or delete ProdApp.
	ProdDeployers []string
	// Project is the AppProject of the Applications.
	Project string
	Apps    []string
	ProdApp string
}

// Policy returns argocd-rbac-cm's policy.csv.
func (r RBAC) Policy() string {
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	if len(r.Deployers) > 0 {
		for _, app := range r.Apps {
			add("p, %s, applications, sync, %s/%s, allow", roleDeployer, r.Project, app)
		}
	}
	if len(r.ProdDeployers) > 0 {
		for _, action := range []string{"sync", "delete"} {
			add("p, %s, applications, %s, %s/%s, allow", roleProdDeployer, action, r.Project, r.ProdApp)
		}
	}
	for _, g := range r.Admins {
		add("g, %s, role:admin", g)
	}
	for _, g := range r.Deployers {
		add("g, %s, %s", g, roleDeployer)
	}
	for _, g := range r.ProdDeployers {
		add("g, %s, %s", g, roleProdDeployer)
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
