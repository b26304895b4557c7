package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// githubAccount is one account the GitHub stand-in knows.
type githubAccount struct {
	org  bool
	plan string // "" hides the plan, as GitHub does from an org's non-owners
}

// githubStandIn answers the REST calls the program and preflight make, as
// GitHub documents them: GET /user (the token's user, its plan, and a
// classic token's scopes in X-OAuth-Scopes), GET /users/{name} (type) and
// GET /orgs/{name} (plan, to owners). A wrong token gets 401, an unknown
// account 404. It records every path asked.
type githubStandIn struct {
	*httptest.Server
	token    string
	login    string
	scopes   string // "" sends no X-OAuth-Scopes (a fine-grained token)
	accounts map[string]githubAccount

	mu    sync.Mutex
	asked []string
}

func newGitHubStandIn(t *testing.T, login, scopes string, accounts map[string]githubAccount) *githubStandIn {
	t.Helper()
	g := &githubStandIn{token: "ghp_standin", login: login, scopes: scopes, accounts: accounts}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *githubStandIn) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.asked = append(g.asked, r.URL.Path)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+g.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return
	}
	if g.scopes != "" {
		w.Header().Set("X-OAuth-Scopes", g.scopes)
	}
	plan := func(name string) any {
		if name == "" {
			return nil
		}
		return map[string]any{"name": name, "space": 976562499, "private_repos": 10000}
	}
	var body map[string]any
	switch name, _ := strings.CutPrefix(r.URL.Path, "/"); {
	case name == "user":
		body = map[string]any{"login": g.login, "type": "User", "plan": plan(g.accounts[g.login].plan)}
	case strings.HasPrefix(name, "users/"):
		a, ok := g.accounts[strings.TrimPrefix(name, "users/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		kind := "User"
		if a.org {
			kind = "Organization"
		}
		body = map[string]any{"login": strings.TrimPrefix(name, "users/"), "type": kind}
	case strings.HasPrefix(name, "orgs/"):
		a, ok := g.accounts[strings.TrimPrefix(name, "orgs/")]
		if !ok || !a.org {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		body = map[string]any{"login": strings.TrimPrefix(name, "orgs/"), "plan": plan(a.plan)}
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// evaluateHubAskingGitHub runs the hub with the program's own GitHub
// client pointed at the stand-in (github:baseUrl and github:token, the
// provider's settings).
func evaluateHubAskingGitHub(t *testing.T, g *githubStandIn, token string, set map[string]string) (*offline.Result, error) {
	t.Helper()
	st, err := offline.LoadStack(projectDir, "dev")
	require.NoError(t, err)
	for k, v := range set {
		st.Config["gitops-platform:"+k] = v
	}
	st.Config["github:baseUrl"] = g.URL + "/"
	st.Config["github:token"] = token
	st.GitHub = infra.ReadGitHub
	return offline.Run(st, nil)
}

// TestHubRefusesWhatTheGitHubPlanCannotHold asks the stand-in as `pulumi
// up` asks GitHub: on GitHub Free private repos are refused before any
// resource is registered, naming publicRepos; public repos, or a paid
// plan, go ahead; and the token's scopes and the owner are checked.
func TestHubRefusesWhatTheGitHubPlanCannotHold(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		login, scopes string
		accounts      map[string]githubAccount
		token         string
		set           map[string]string
		key, want     string // "" goes ahead
		warn          string
	}{
		"free user, private repos": {login: "gitops-seminar", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "free"}},
			key:      "publicRepos", want: "the user gitops-seminar is on GitHub Free, which offers environments and rulesets on public repositories only"},
		"free org, private repos": {login: "alice", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"alice": {plan: "pro"}, "gitops-seminar": {org: true, plan: "free"}},
			key:      "publicRepos", want: "Set publicRepos: true"},
		"free user, public repos": {login: "gitops-seminar", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "free"}}, set: map[string]string{"publicRepos": "true"}},
		"pro user, private repos": {login: "gitops-seminar", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "pro"}}},
		"org plan hidden": {login: "alice", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"alice": {plan: "free"}, "gitops-seminar": {org: true}},
			warn:     "GitHub does not show the plan of the organization gitops-seminar"},
		"no workflow scope": {login: "gitops-seminar", scopes: "repo",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "pro"}},
			key:      "githubOwner", want: "the GitHub token lacks the workflow scope"},
		"ghcr without write:packages": {login: "gitops-seminar", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "free"}}, set: ghcrHub,
			key: "registry", want: "lacks the write:packages scope, needed for pushing the first image to ghcr.io"},
		"ghcr with write:packages": {login: "gitops-seminar", scopes: "repo, workflow, write:packages",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "free"}}, set: ghcrHub},
		"wrong token": {login: "gitops-seminar", scopes: "repo, workflow", token: "ghp_wrong",
			accounts: map[string]githubAccount{"gitops-seminar": {plan: "pro"}},
			key:      "githubOwner", want: "GitHub refused the token (401 Bad credentials)"},
		"owner does not exist": {login: "alice", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"alice": {plan: "pro"}},
			key:      "githubOwner", want: `GitHub has no user or organization "gitops-seminar"`},
		"someone else's user": {login: "alice", scopes: "repo, workflow",
			accounts: map[string]githubAccount{"alice": {plan: "pro"}, "gitops-seminar": {plan: "pro"}},
			key:      "githubOwner", want: "the token belongs to alice, not to the user gitops-seminar"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newGitHubStandIn(t, c.login, c.scopes, c.accounts)
			token := c.token
			if token == "" {
				token = g.token
			}
			res, err := evaluateHubAskingGitHub(t, g, token, c.set)
			assert.Contains(t, g.asked, "/user", "GitHub was asked")
			if c.key == "" {
				require.NoError(t, err)
				if c.warn != "" {
					assert.Contains(t, strings.Join(res.Warnings, "\n"), c.warn)
				}
				return
			}
			var verr *infra.ValidationError
			require.ErrorAs(t, err, &verr)
			assert.Equal(t, []string{infra.FullKey(c.key)}, verr.Keys())
			assert.Contains(t, err.Error(), c.want)
			for _, r := range res.Resources {
				assert.False(t, r.Custom, "nothing is created before GitHub's answer: %s %s", r.Type, r.Name)
			}
		})
	}
}
