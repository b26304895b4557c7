package tests

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/infra"
)

// FuzzParseConfig checks that no configuration makes the loader panic, and
// that whatever it accepts is within the documented bounds.
//
//	go test ./tests -run '^$' -fuzz FuzzParseConfig -fuzztime 3m
func FuzzParseConfig(f *testing.F) {
	f.Add("dev", true, "", "https://kubernetes.default.svc", "1", "auto", "9.4.16", "octo-org", "replicas", "2", false)
	f.Add("staging", false, "dev", "https://192.168.49.3:8443", "2", "auto", "9.4.16", "", "colour", "blue", false)
	f.Add("prod", false, "org/proj/dev", "https://[::1]:8443", "3", "manual", "^1", "-x", "slackToken", "xoxb", true)
	f.Add("", false, "a/b", "https://:0", "-1", "", "", "a--b", "", "", true)
	f.Fuzz(func(t *testing.T, env string, hub bool, hubStack, server, replicas, sync, chart, owner, extraKey, extraVal string, extraSecret bool) {
		raw := infra.Raw{Values: map[string]string{
			key("environment"): env, key("hub"): map[bool]string{true: "true", false: "false"}[hub],
			key("hubStack"): hubStack, key("kubeContext"): env, key("clusterServer"): server,
			key("replicas"): replicas, key("syncMode"): sync, key("argocdChartVersion"): chart,
			key("githubOwner"): owner,
		}, Secret: map[string]bool{}}
		if extraKey != "" {
			raw.Values[key(extraKey)] = extraVal
			raw.Secret[key(extraKey)] = extraSecret
		}
		cfg, err := infra.Parse(raw)
		if err != nil {
			var verr *infra.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			for _, p := range verr.Problems {
				if !strings.HasPrefix(p.Key, "gitops-platform:") || p.Expected == "" {
					t.Fatalf("problem without key or expectation: %+v", p)
				}
			}
			// The secret may only show where another value (raw or quoted) or
			// the key itself contains the same text.
			others := fmt.Sprintf("%s %q", extraKey+env+hubStack+server+replicas+sync+chart+owner,
				[]string{extraKey, env, hubStack, server, replicas, sync, chart, owner})
			if extraKey != "" && extraSecret && len(extraVal) > 3 && strings.Contains(err.Error(), extraVal) && !strings.Contains(others, extraVal) {
				t.Fatalf("secret value %q printed: %v", extraVal, err)
			}
			return
		}
		if cfg.Replicas < 1 || cfg.Replicas > 50 {
			t.Fatalf("accepted replicas %d", cfg.Replicas)
		}
		if !slices.Contains(infra.Environments, cfg.Environment) {
			t.Fatalf("accepted environment %q", cfg.Environment)
		}
		if cfg.SyncMode != infra.SyncAuto && cfg.SyncMode != infra.SyncManual {
			t.Fatalf("accepted sync mode %q", cfg.SyncMode)
		}
		if !cfg.Hub && (cfg.HubStack == "" || !strings.HasPrefix(cfg.ClusterServer, "https://")) {
			t.Fatalf("accepted a non-hub stack without hub or server: %+v", cfg)
		}
	})
}
