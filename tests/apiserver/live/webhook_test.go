package live

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// pushPayload is the part of GitHub's push event Argo CD reads.
func pushPayload(before, after string, modified []string) ([]byte, error) {
	repoPath := strings.TrimSuffix(gitopsRepoPath, ".git")
	return json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": before, "after": after,
		"commits": []any{map[string]any{"id": after, "added": []string{}, "removed": []string{}, "modified": modified}},
		"repository": map[string]any{
			"name": "tech-seminar-gitops", "full_name": "gitops-seminar/tech-seminar-gitops", "default_branch": "main",
			"html_url": "https://127.0.0.1" + repoPath, "clone_url": "https://127.0.0.1" + repoPath + ".git",
		},
	})
}

// postPush sends the push event as GitHub would: signed with the webhook
// secret (X-Hub-Signature-256), to argocd-server's /api/webhook. A wrong
// secret signs with another key.
func postPush(before, after string, modified []string, secret string) (int, error) {
	body, err := pushPayload(before, after, modified)
	if err != nil {
		return 0, err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	resp, err := send(func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, argo.webhook, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("live-%s", after[:8]))
		req.Header.Set("X-Hub-Signature-256", signature)
		return req, nil
	})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
