package monitoring

import (
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"

	"gopkg.in/yaml.v3"
)

const (
	// slackPostMessage is the Web API method a bot token posts with; Slack
	// accepts Alertmanager's incoming-webhook body there when it names a channel.
	slackPostMessage = "https://slack.com/api/chat.postMessage"
)

// The label every platform rule carries; Alertmanager routes on it.
const (
	platformLabel      = "platform"
	platformLabelValue = "gitops-platform"
	// AlertmanagerConfigKey is the key prometheus-operator reads from the
	// configSecret.
	AlertmanagerConfigKey = "alertmanager.yaml"
	alertmanagerSecret    = "alertmanager-gitops-platform"
	receiverNull          = "null"
	receiverSlack         = "slack"
)

// Alerting says where one cluster's Alertmanager sends alerts.
type Alerting struct {
	// Environment names the cluster in every message.
	Environment string
	// Method is SlackBot or SlackWebhook; empty keeps alerts in Alertmanager.
	Method  string
	Channel string
}

// AlertmanagerConfig returns Alertmanager's configuration: the platform's
// own alerts and any critical alert of the chart's default rules go to
// Slack; Watchdog and InfoInhibitor (always firing by design) and the rest
// of the default rules stay in Alertmanager. credential is the bot token or
// the webhook URL, so the result is as secret as it is.
func AlertmanagerConfig(a Alerting, credential string) (string, error) {
	route := amRoute{
		Receiver:       receiverNull,
		GroupBy:        []string{"alertname", "namespace"},
		GroupWait:      "30s",
		GroupInterval:  "5m",
		RepeatInterval: "4h",
		Routes: []amRoute{{
			Receiver: receiverNull,
			Matchers: []string{`alertname=~"Watchdog|InfoInhibitor"`},
		}},
	}
	receivers := []amReceiver{{Name: receiverNull}}
	if a.Method != "" {
		if credential == "" {
			return "", fmt.Errorf("alertmanager: slack method %q without a credential", a.Method)
		}
		if a.Channel == "" {
			return "", fmt.Errorf("alertmanager: slack method %q without a channel", a.Method)
		}
		slack := amSlack{
			SendResolved: true,
			Channel:      a.Channel,
			Title:        fmt.Sprintf(`[{{ .Status | toUpper }}] %s: {{ .CommonLabels.alertname }}`, a.Environment),
			Text:         "{{ range .Alerts }}• {{ .Annotations.summary }}\n{{ end }}",
		}
		switch a.Method {
		case platform.SlackBot:
			slack.APIURL = slackPostMessage
			slack.HTTPConfig = &amHTTPConfig{Authorization: amAuthorization{Type: "Bearer", Credentials: credential}}
		case platform.SlackWebhook:
			slack.APIURL = credential
		default:
			return "", fmt.Errorf("alertmanager: unknown slack method %q (want %s or %s)", a.Method, platform.SlackBot, platform.SlackWebhook)
		}
		receivers = append(receivers, amReceiver{Name: receiverSlack, SlackConfigs: []amSlack{slack}})
		route.Routes = append(route.Routes,
			amRoute{Receiver: receiverSlack, Matchers: []string{fmt.Sprintf("%s=%q", platformLabel, platformLabelValue)}},
			amRoute{Receiver: receiverSlack, Matchers: []string{`severity="critical"`}},
		)
	}
	b, err := yaml.Marshal(amConfig{Route: route, Receivers: receivers})
	if err != nil {
		return "", fmt.Errorf("alertmanager config: %w", err)
	}
	return string(b), nil
}

// The subset of Alertmanager's configuration the platform writes.
type amConfig struct {
	Route     amRoute      `yaml:"route"`
	Receivers []amReceiver `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

type amReceiver struct {
	Name         string    `yaml:"name"`
	SlackConfigs []amSlack `yaml:"slack_configs,omitempty"`
}

type amSlack struct {
	SendResolved bool          `yaml:"send_resolved"`
	APIURL       string        `yaml:"api_url"`
	HTTPConfig   *amHTTPConfig `yaml:"http_config,omitempty"`
	Channel      string        `yaml:"channel"`
	Title        string        `yaml:"title"`
	Text         string        `yaml:"text"`
}

type amHTTPConfig struct {
	Authorization amAuthorization `yaml:"authorization"`
}

type amAuthorization struct {
	Type        string `yaml:"type"`
	Credentials string `yaml:"credentials"`
}
