package argocd

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed notifications/events.yaml
var eventsYAML []byte

// Notification services, as subscriptions name them.
const (
	serviceSlack        = "slack"
	serviceSlackWebhook = "slack-webhook"
)

// Keys of argocd-notifications-secret that the service config refers to.
const (
	SecretKeySlackToken   = "slack-token"
	SecretKeySlackWebhook = "slack-webhook-url"
	notificationsSecret   = "argocd-notifications-secret"
)

type event struct {
	Trigger     string `yaml:"trigger"`
	Template    string `yaml:"template"`
	Description string `yaml:"description"`
	OncePer     string `yaml:"oncePer"`
	When        string `yaml:"when"`
	ManualOnly  bool   `yaml:"manualOnly"`
	Icon        string `yaml:"icon"`
	Color       string `yaml:"color"`
	Text        string `yaml:"text"`
}

func events() ([]event, error) {
	var evs []event
	if err := yaml.Unmarshal(eventsYAML, &evs); err != nil {
		return nil, fmt.Errorf("notification events: %w", err)
	}
	return evs, nil
}

// NotificationsOptions configure Argo CD's notifications.
type NotificationsOptions struct {
	// Method is SlackBot or SlackWebhook; "" turns notifications off.
	Method string
	// Channel is where a bot posts; an incoming webhook's channel is fixed by Slack.
	Channel   string
	ArgoCDURL string
	// ProdDeployers are the groups that may sync what waits for a person;
	// the message that a revision waits names them.
	ProdDeployers []string
}

// Service is the notification service subscriptions name, "" when off.
func (o NotificationsOptions) Service() string {
	switch o.Method {
	case platform.SlackBot:
		return serviceSlack
	case platform.SlackWebhook:
		return serviceSlackWebhook
	}
	return ""
}

// trigger condition, as argocd-notifications-cm holds it.
type condition struct {
	Description string   `yaml:"description"`
	OncePer     string   `yaml:"oncePer,omitempty"`
	Send        []string `yaml:"send"`
	When        string   `yaml:"when"`
}

// template, as argocd-notifications-cm holds it.
type template struct {
	Message string                     `yaml:"message"`
	Slack   *slackTemplate             `yaml:"slack,omitempty"`
	Webhook map[string]webhookTemplate `yaml:"webhook,omitempty"`
}

type slackTemplate struct {
	Attachments string `yaml:"attachments"`
}

type webhookTemplate struct {
	Method string `yaml:"method"`
	Body   string `yaml:"body"`
}

type slackAttachment struct {
	Color     string `json:"color"`
	Title     string `json:"title"`
	TitleLink string `json:"title_link,omitempty"`
	Text      string `json:"text"`
}

// NotificationsConfig returns the data of argocd-notifications-cm: the
// Slack service (its credential is a $reference into the Secret), and a
// trigger and a template per event. With no method, triggers and templates
// stay but no service is defined, and nothing subscribes.
func NotificationsConfig(o NotificationsOptions) (map[string]string, error) {
	evs, err := events()
	if err != nil {
		return nil, err
	}
	data := map[string]string{}
	switch o.Method {
	case platform.SlackBot:
		data["service.slack"] = "token: $" + SecretKeySlackToken + "\nusername: Argo CD\n"
	case platform.SlackWebhook:
		data["service.webhook."+serviceSlackWebhook] = "url: $" + SecretKeySlackWebhook +
			"\nheaders:\n  - name: Content-Type\n    value: application/json\n"
	case "":
	default:
		return nil, fmt.Errorf("notifications: unknown Slack method %q", o.Method)
	}
	link := ""
	if o.ArgoCDURL != "" {
		link = strings.TrimSuffix(o.ArgoCDURL, "/") + "/applications/{{.app.metadata.name}}"
	}
	for _, ev := range evs {
		trig, err := marshalYAML([]condition{{Description: ev.Description, OncePer: ev.OncePer, Send: []string{ev.Template}, When: ev.When}})
		if err != nil {
			return nil, err
		}
		data["trigger."+ev.Trigger] = trig
		if ev.ManualOnly {
			ev.Text += " " + whoMaySync(o.ProdDeployers)
		}
		tmpl, err := eventTemplate(ev, o.Method, link)
		if err != nil {
			return nil, err
		}
		data["template."+ev.Template] = tmpl
	}
	return data, nil
}

// whoMaySync is the people's side of prod's gate, for the message that a
// revision waits: the prod deployers' groups, or admins when none is named.
func whoMaySync(groups []string) string {
	if len(groups) == 0 {
		return "Who may sync it: Argo CD admins."
	}
	return "Who may sync it: " + strings.Join(groups, ", ") + "."
}

func eventTemplate(ev event, method, link string) (string, error) {
	message := ev.Icon + " " + ev.Text
	if link != "" {
		message += " " + link
	}
	t := template{Message: message}
	switch method {
	case platform.SlackBot:
		att, err := marshalJSON([]slackAttachment{{Color: ev.Color, Title: "{{.app.metadata.name}}", TitleLink: link, Text: ev.Text}})
		if err != nil {
			return "", err
		}
		t.Slack = &slackTemplate{Attachments: att}
	case platform.SlackWebhook:
		body, err := marshalJSON(map[string]string{"text": message})
		if err != nil {
			return "", err
		}
		t.Webhook = map[string]webhookTemplate{serviceSlackWebhook: {Method: "POST", Body: body}}
	}
	return marshalYAML(t)
}

// Subscriptions returns the annotations that subscribe an Application to
// every event for its sync mode: manual Applications also hear that a
// revision waits for them.
func Subscriptions(o NotificationsOptions, manual bool) (map[string]string, error) {
	service := o.Service()
	if service == "" {
		return map[string]string{}, nil
	}
	evs, err := events()
	if err != nil {
		return nil, err
	}
	recipient := o.Channel
	if o.Method == platform.SlackWebhook {
		recipient = "" // the webhook URL fixes the channel
	}
	out := map[string]string{}
	for _, ev := range evs {
		if ev.ManualOnly && !manual {
			continue
		}
		out["notifications.argoproj.io/subscribe."+ev.Trigger+"."+service] = recipient
	}
	return out, nil
}

func marshalYAML(v any) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

// marshalJSON keeps < > & as they are: they are Slack text, not HTML.
func marshalJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}
