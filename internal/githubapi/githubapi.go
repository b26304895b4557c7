// Package githubapi asks GitHub's REST API what the platform needs to know
// before it creates anything: whether the owner is a user or an
// organization, and which plan it is on, since GitHub Free offers
// environments and rulesets on public repositories only.
package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultBaseURL is GitHub's API; GITHUB_BASE_URL (the pulumi-github
// provider's setting) points elsewhere, e.g. at GitHub Enterprise or a
// stand-in.
const DefaultBaseURL = "https://api.github.com/"

// PlanFree is the plan name GitHub reports for GitHub Free, for users and
// organizations alike.
const PlanFree = "free"

// Account is what GitHub says of the owner of the repos.
type Account struct {
	Login string
	// Organization is true for an organization, false for a user.
	Organization bool
	// Plan is GitHub's plan name ("free", "pro", "team", ...), lower case;
	// empty when GitHub does not show it to this token (an organization's
	// plan is shown to its owners only, with the admin:org scope).
	Plan string
	// TokenLogin is the user the token belongs to.
	TokenLogin string
	// Scopes are a classic token's scopes (X-OAuth-Scopes); nil for a
	// fine-grained token, which reports none.
	Scopes []string
}

// Free reports whether the owner is known to be on GitHub Free.
func (a *Account) Free() bool { return a.Plan == PlanFree }

// Client reads accounts with a token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// StatusError is an answer other than 200.
type StatusError struct {
	URL     string
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GitHub answered %d for %s: %s", e.Status, e.URL, e.Message)
}

// Account reads the owner and the token's own user. A token GitHub refuses,
// or an owner that does not exist, is an error that says so.
func (c *Client) Account(ctx context.Context, owner string) (*Account, error) {
	if c.Token == "" {
		return nil, errors.New("no GitHub token: set GITHUB_TOKEN (or github:token) to a token with the repo and workflow scopes")
	}
	var me struct {
		Login string `json:"login"`
		Plan  *plan  `json:"plan"`
	}
	hdr, err := c.get(ctx, "user", &me)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			return nil, fmt.Errorf("GitHub refused the token (401 %s): it is wrong, expired or revoked; make a new one", se.Message)
		}
		return nil, err
	}
	a := &Account{Login: owner, TokenLogin: me.Login, Scopes: scopes(hdr)}
	var who struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	}
	if _, err := c.get(ctx, "users/"+owner, &who); err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return nil, fmt.Errorf("GitHub has no user or organization %q", owner)
		}
		return nil, err
	}
	a.Login = who.Login
	a.Organization = who.Type == "Organization"
	if !a.Organization {
		if !strings.EqualFold(me.Login, who.Login) {
			return nil, fmt.Errorf("the token belongs to %s, not to the user %s: a token creates repositories only in its own "+
				"account or in an organization; use %s's token, or an organization", me.Login, who.Login, who.Login)
		}
		a.Plan = me.Plan.lower()
		return a, nil
	}
	var org struct {
		Plan *plan `json:"plan"`
	}
	if _, err := c.get(ctx, "orgs/"+owner, &org); err != nil {
		return nil, err
	}
	a.Plan = org.Plan.lower()
	return a, nil
}

type plan struct {
	Name string `json:"name"`
}

func (p *plan) lower() string {
	if p == nil {
		return ""
	}
	return strings.ToLower(p.Name)
}

// scopes reads a classic token's scopes; a fine-grained token sends no header.
func scopes(h http.Header) []string {
	v, ok := h["X-Oauth-Scopes"]
	if !ok {
		return nil
	}
	out := []string{}
	for _, s := range strings.Split(strings.Join(v, ","), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *Client) get(ctx context.Context, path string, into any) (http.Header, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	url := strings.TrimSuffix(base, "/") + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GitHub did not answer %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &msg)
		if msg.Message == "" {
			msg.Message = strings.TrimSpace(string(body))
		}
		return nil, &StatusError{URL: url, Status: resp.StatusCode, Message: msg.Message}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return nil, fmt.Errorf("GitHub's answer for %s: %w", url, err)
	}
	return resp.Header, nil
}
