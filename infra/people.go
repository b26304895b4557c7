package infra

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"net/url"
	"regexp"
	"strings"

	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/internal/chartsource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SSO is how people log in to Argo CD.
type SSO string

const (
	SSONone   SSO = "none"
	SSOGitHub SSO = argocd.SSOGitHub
	SSOOIDC   SSO = argocd.SSOOIDC
)

// Config keys of people's access to Argo CD and of the chart mirrors.
const (
	KeyArgoCDSSO             = "argocdSso"
	KeyArgoCDSSOClientID     = "argocdSsoClientId"
	KeyArgoCDSSOClientSecret = "argocdSsoClientSecret"
	KeyArgoCDSSOGitHubTeams  = "argocdSsoGithubTeams"
	KeyArgoCDOIDCIssuer      = "argocdOidcIssuer"
	KeyArgoCDOIDCGroupsClaim = "argocdOidcGroupsClaim"
	KeyArgoCDAdmins          = "argocdAdmins"
	KeyArgoCDDeployers       = "argocdDeployers"
	KeyArgoCDProdDeployers   = "argocdProdDeployers"
	KeyArgoCDChartRepo       = "argocdChartRepository"
	KeyArgoCDChartUser       = "argocdChartRepositoryUsername"
	KeyArgoCDChartPassword   = "argocdChartRepositoryPassword"
	KeyPromChartRepo         = "kubePrometheusStackChartRepository"
	KeyPromChartUser         = "kubePrometheusStackChartRepositoryUsername"
	KeyPromChartPassword     = "kubePrometheusStackChartRepositoryPassword"
)

var (
	githubSlug  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	githubGroup = regexp.MustCompile(`^([A-Za-z0-9-]+):([A-Za-z0-9][A-Za-z0-9._-]*)$`)
	// Group names as an issuer writes them; no braces or quotes, since
	// they go into Argo CD's message templates.
	plainGroup = regexp.MustCompile(`^[^\s,{}"\\]+$`)
)

// Access is who may log in to Argo CD and what each group may do.
type Access struct {
	SSO          SSO
	ClientID     string
	ClientSecret Secret
	GitHubTeams  []string
	OIDCIssuer   string
	GroupsClaim  string
	// Groups (GitHub's written org:team), each a list.
	Admins, Deployers, ProdDeployers []string
}

// ChartSource is where one chart comes from.
type ChartSource struct {
	Repository string
	Username   string
	Password   Secret
}

// Source is the chart source as the components take it.
func (c ChartSource) Source() chartsource.Source {
	s := chartsource.Source{Repository: c.Repository, Username: c.Username}
	if c.Password.IsSet() {
		s.Password = secretInput(c.Password)
	}
	return s
}

// list reads a comma-separated list, spaces around items ignored.
func (p *parser) list(name string) []string {
	var out []string
	for _, item := range strings.Split(p.str(name), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (p *parser) access() Access {
	return Access{
		SSO:           SSO(p.str(KeyArgoCDSSO)),
		ClientID:      p.str(KeyArgoCDSSOClientID),
		ClientSecret:  p.secret(KeyArgoCDSSOClientSecret),
		GitHubTeams:   p.list(KeyArgoCDSSOGitHubTeams),
		OIDCIssuer:    p.str(KeyArgoCDOIDCIssuer),
		GroupsClaim:   p.str(KeyArgoCDOIDCGroupsClaim),
		Admins:        p.list(KeyArgoCDAdmins),
		Deployers:     p.list(KeyArgoCDDeployers),
		ProdDeployers: p.list(KeyArgoCDProdDeployers),
	}
}

func (p *parser) chartSource(repo, user, password string) ChartSource {
	return ChartSource{Repository: p.str(repo), Username: p.str(user), Password: p.secret(password)}
}

// validatePeople checks single sign-on and the groups, before any resource.
func (p *parser) validatePeople(c *Config) {
	a := c.Access
	groupKeys := map[string][]string{KeyArgoCDAdmins: a.Admins, KeyArgoCDDeployers: a.Deployers, KeyArgoCDProdDeployers: a.ProdDeployers}
	switch a.SSO {
	case SSONone:
		for key, set := range map[string]bool{
			KeyArgoCDSSOClientID: a.ClientID != "", KeyArgoCDSSOClientSecret: a.ClientSecret.IsSet(),
			KeyArgoCDOIDCIssuer: a.OIDCIssuer != "", KeyArgoCDSSOGitHubTeams: len(a.GitHubTeams) > 0,
			KeyArgoCDAdmins: len(a.Admins) > 0, KeyArgoCDDeployers: len(a.Deployers) > 0, KeyArgoCDProdDeployers: len(a.ProdDeployers) > 0,
		} {
			if set {
				p.add(key, p.given(key), "is set but argocdSso is none: groups and clients need single sign-on (argocdSso: github or oidc)")
			}
		}
		return
	case SSOGitHub, SSOOIDC:
	default:
		p.add(KeyArgoCDSSO, string(a.SSO), "expected none, github (Argo CD's Dex with GitHub) or oidc (an external issuer)")
		return
	}
	if c.ArgoCDURL == "" {
		p.add(KeyArgoCDURL, "", "required with argocdSso: the identity provider sends people back to <argocdUrl>/auth/callback (Dex: /api/dex/callback)")
	}
	if a.ClientID == "" {
		p.add(KeyArgoCDSSOClientID, "", "required with argocdSso: the OAuth app's or OIDC client's ID")
	}
	if !a.ClientSecret.IsSet() {
		p.add(KeyArgoCDSSOClientSecret, "", "required with argocdSso: set it with `pulumi config set --secret argocdSsoClientSecret <value>`")
	}
	if a.SSO == SSOGitHub {
		if a.OIDCIssuer != "" {
			p.add(KeyArgoCDOIDCIssuer, a.OIDCIssuer, "only with argocdSso: oidc (GitHub logins go through Argo CD's Dex)")
		}
		for _, team := range a.GitHubTeams {
			if !githubSlug.MatchString(team) {
				p.add(KeyArgoCDSSOGitHubTeams, team, "expected team slugs of githubOwner, comma-separated, e.g. platform,sre")
			}
		}
		for key, groups := range groupKeys {
			for _, g := range groups {
				m := githubGroup.FindStringSubmatch(g)
				if m == nil || !strings.EqualFold(m[1], c.GitHubOwner) {
					p.add(key, g, fmt.Sprintf("expected GitHub teams of %s written org:team-slug, comma-separated, e.g. %s:platform", c.GitHubOwner, c.GitHubOwner))
				}
			}
		}
		return
	}
	if len(a.GitHubTeams) > 0 {
		p.add(KeyArgoCDSSOGitHubTeams, strings.Join(a.GitHubTeams, ","), "only with argocdSso: github")
	}
	if u, err := url.Parse(a.OIDCIssuer); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.add(KeyArgoCDOIDCIssuer, a.OIDCIssuer, "expected the issuer's https URL, e.g. https://login.example.com/realms/platform")
	}
	if !plainGroup.MatchString(a.GroupsClaim) {
		p.add(KeyArgoCDOIDCGroupsClaim, a.GroupsClaim, "expected the name of the ID token's claim that lists a person's groups")
	}
	for key, groups := range groupKeys {
		for _, g := range groups {
			if !plainGroup.MatchString(g) {
				p.add(key, g, "expected group names as the issuer writes them, comma-separated")
			}
		}
	}
}

// validateCharts checks both chart sources.
func (p *parser) validateCharts(c *Config) {
	for _, s := range []struct {
		repo, user, password string
		src                  ChartSource
	}{
		{KeyArgoCDChartRepo, KeyArgoCDChartUser, KeyArgoCDChartPassword, c.ArgoCDChart},
		{KeyPromChartRepo, KeyPromChartUser, KeyPromChartPassword, c.KubePrometheusStackChart},
	} {
		if u, err := url.Parse(s.src.Repository); err != nil || (u.Scheme != "https" && u.Scheme != "oci") || u.Host == "" {
			p.add(s.repo, s.src.Repository, "expected an https:// Helm repository or an oci:// registry path, e.g. oci://registry.example.com/charts")
		}
		switch {
		case s.src.Username != "" && !s.src.Password.IsSet():
			p.add(s.password, "", "required with "+s.user+" (set it with --secret)")
		case s.src.Username == "" && s.src.Password.IsSet():
			p.add(s.user, "", "required with "+s.password)
		}
	}
}

// given is a key's value as the stack gives it (add masks secrets).
func (p *parser) given(key string) string {
	spec, _ := lookupKey(key)
	v, _ := p.value(spec)
	return v
}

// argoCDAccess is the SSO and RBAC the argocd component takes, with the
// client secret.
func argoCDAccess(cfg *Config, project, appName string) (argocd.SSO, argocd.RBAC, pulumi.StringInput) {
	a := cfg.Access
	rbac := argocd.RBAC{
		Admins: a.Admins, Deployers: a.Deployers, ProdDeployers: a.ProdDeployers,
		Project: project, ProdApp: appName + "-" + platform.ProdEnvironment,
	}
	for _, env := range Environments {
		if env != platform.ProdEnvironment {
			rbac.Apps = append(rbac.Apps, appName+"-"+env)
		}
	}
	if a.SSO == SSONone {
		return argocd.SSO{}, rbac, nil
	}
	sso := argocd.SSO{Kind: string(a.SSO), ClientID: a.ClientID, Issuer: a.OIDCIssuer, GroupsClaim: a.GroupsClaim}
	if a.SSO == SSOGitHub {
		sso.GitHubOrg, sso.GitHubTeams = cfg.GitHubOwner, a.GitHubTeams
	}
	return sso, rbac, secretInput(a.ClientSecret)
}
