package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/argoproj/argo-cd/v3/util/password"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
)

// githubSSO gives the hub GitHub single sign-on and the groups of people's
// access (argocdDeployers, argocdProdDeployers), as a stack file would.
const githubSSO = `  gitops-platform:argocdSso: github
  gitops-platform:argocdSsoClientId: Iv1.live
  gitops-platform:argocdSsoClientSecret:
    secure: v1:bGl2ZS1zc28=
  gitops-platform:argocdDeployers: gitops-seminar:developers
  gitops-platform:argocdProdDeployers: gitops-seminar:sre
`

// People with API keys stand in for people who log in with GitHub: no
// GitHub here, and Dex is not run. Each local account is put in the SSO
// group it stands for, with a grouping line added to the rendered policy
// (Argo CD's RBAC resolves user → group → role transitively); everything
// else the server decides is the program's own argocd-rbac-cm.
var standIns = map[string]string{
	"release-manager": "gitops-seminar:sre",
	"developer":       "gitops-seminar:developers",
}

// adminPassword is the local admin's (argocdAdminEnabled in the lab's
// hub), used only to issue the stand-ins' API keys.
const adminPassword = "live-tier-admin"

// addStandIns adds the local accounts, their groups and the admin
// password to the configuration the chart would write.
func addStandIns(config *kit.ArgoCDConfig) error {
	cm, rbac := config.ConfigMaps["argocd-cm"], config.ConfigMaps["argocd-rbac-cm"]
	for account, group := range standIns {
		cm["accounts."+account] = "apiKey"
		rbac["policy.csv"] += fmt.Sprintf("g, %s, %s\n", account, group)
	}
	hash, err := password.HashPassword(adminPassword)
	if err != nil {
		return err
	}
	config.Secret["admin.password"] = hash
	config.Secret["admin.passwordMtime"] = time.Now().UTC().Format(time.RFC3339)
	return nil
}

// apiClient opens a connection per request. argocd-server serves HTTP/1
// and gRPC on one port and sniffs each connection's first bytes to tell
// them apart (cmux). Once in CI, the run's first request was answered with
// an HTTP/2 SETTINGS frame, as the gRPC side answers; a short first read
// under load is the likely cause (not reproduced). A request with no HTTP
// answer is sent again on a new connection (send).
var apiClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// send sends the request newRequest builds until it gets an HTTP answer,
// at most 10 times.
func send(newRequest func() (*http.Request, error)) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		req, err := newRequest()
		if err != nil {
			return nil, err
		}
		resp, err := apiClient.Do(req)
		if err == nil {
			return resp, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no HTTP answer after 10 attempts: %w", lastErr)
}

// api calls argocd-server's REST API with a bearer token; it returns the
// status and the body.
func api(method, path, token string, body any) (int, []byte, error) {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		payload = b
	}
	resp, err := send(func() (*http.Request, error) {
		req, err := http.NewRequest(method, argo.api+path, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req, nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// apiKey logs in as admin and issues an API key for a stand-in, as
// `argocd account generate-token --account <name>` does.
func apiKey(account string) (string, error) {
	var session, key struct{ Token string }
	status, body, err := api(http.MethodPost, "/api/v1/session", "", map[string]string{"username": "admin", "password": adminPassword})
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("admin login: %d %s %v", status, body, err)
	}
	if err := json.Unmarshal(body, &session); err != nil {
		return "", err
	}
	status, body, err = api(http.MethodPost, "/api/v1/account/"+account+"/token", session.Token, map[string]string{"id": account + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("token for %s: %d %s %v", account, status, body, err)
	}
	if err := json.Unmarshal(body, &key); err != nil {
		return "", err
	}
	return key.Token, nil
}

// syncApp asks argocd-server to sync an Application, as `argocd app sync`.
func syncApp(token, app string) (int, string, error) {
	status, body, err := api(http.MethodPost, "/api/v1/applications/"+app+"/sync", token, map[string]any{
		"name": app, "revision": "HEAD", "syncOptions": map[string]any{"items": []string{"ServerSideApply=true"}},
	})
	return status, string(body), err
}
