package infra

import (
	"github.com/gitops-platform/gitops-platform/components/argocd"
	"github.com/gitops-platform/gitops-platform/components/monitoring"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// slackChoice is the stack's Slack, decided once: the method (empty
// without a credential), the channel, the credential as a Pulumi secret,
// and the argocd-notifications-secret key the hub keeps it under.
type slackChoice struct {
	method           SlackMethod
	channel          string
	credential       pulumi.StringInput
	notificationsKey string
}

// slack is the one place slackMethod picks a credential.
func (c *Config) slack() slackChoice {
	var credential Secret
	key := ""
	switch c.SlackMethod {
	case SlackBot:
		credential, key = c.SlackToken, argocd.SecretKeySlackToken
	case SlackWebhook:
		credential, key = c.SlackWebhookURL, argocd.SecretKeySlackWebhook
	}
	if !credential.IsSet() {
		return slackChoice{channel: c.SlackChannel}
	}
	return slackChoice{method: c.SlackMethod, channel: c.SlackChannel, credential: secretInput(credential), notificationsKey: key}
}

// alerts is where this stack's Alertmanager sends alerts.
func (s slackChoice) alerts() monitoring.SlackArgs {
	return monitoring.SlackArgs{Method: string(s.method), Channel: s.channel, Credential: s.credential}
}

// notifications are the hub's Argo CD notifications; without a credential
// they are off (the argocd component warns).
func (s slackChoice) notifications(cfg *Config) argocd.NotificationsOptions {
	return argocd.NotificationsOptions{Method: string(s.method), Channel: s.channel, ArgoCDURL: cfg.ArgoCDURL, ProdDeployers: cfg.Access.ProdDeployers}
}

// secretInput hands a secret config value to a resource, as a Pulumi secret.
func secretInput(s Secret) pulumi.StringInput {
	return pulumi.ToSecret(pulumi.String(s.Reveal())).(pulumi.StringOutput)
}

// SlackConfigured reports whether the stack has a credential for its Slack
// method.
func (c *Config) SlackConfigured() bool { return c.slack().method != "" }
