package live

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// slackWebhook is a secure: value as `pulumi config set --secret` writes
// it: the hub then notifies through an incoming webhook and every
// Application subscribes; the tier points argocd-notifications-secret at
// its receiver, since the render cannot decrypt the value.
const slackWebhook = "  gitops-platform:slackMethod: webhook\n  gitops-platform:slackWebhookUrl:\n    secure: v1:bGl2ZS10aWVy\n"

// argocdURL gives the hub a webhook from the gitops repo, signed with a
// secret the program generates and Argo CD checks.
const argocdURL = "  gitops-platform:argocdUrl: http://127.0.0.1:8080\n"

// renderStacks renders every stack of a copy of the project whose hub has a
// Slack webhook, reading each cluster's CA from a kubeconfig, as pulumi up
// would, and writing the values behind [secret] (placeholders only).
func renderStacks(tmp, bin string) error {
	var kc strings.Builder
	kc.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	for _, s := range stacks {
		fmt.Fprintf(&kc, "- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", s, envs[s].URL(),
			base64.StdEncoding.EncodeToString(envs[s].cluster.CAPEM))
	}
	kc.WriteString("contexts:\n")
	for _, s := range stacks {
		fmt.Fprintf(&kc, "- name: %s\n  context: {cluster: %s, user: %s}\n", s, s, s)
	}
	kubeconfig := filepath.Join(tmp, "render.kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(kc.String()), 0o600); err != nil {
		return err
	}
	project := filepath.Join(tmp, "project")
	if err := kit.CopyProject(projectRoot, project, slackWebhook+argocdURL+githubSSO); err != nil {
		return err
	}
	return kit.RenderStacks(bin, project, kubeconfig, renderDir)
}

// rendered is one object of a stack's render, with the provider (cluster)
// the program gives it.
type rendered struct {
	file     string
	provider string
	obj      *unstructured.Unstructured
}

// applyOrder places namespaces first and ServiceAccounts next (a token
// Secret or a Job whose ServiceAccount does not exist yet is deleted or
// refused), and cluster registrations last, as their dependencies order
// them under pulumi up.
func applyOrder(file string) int {
	switch {
	case strings.HasPrefix(file, "namespace-"):
		return 0
	case strings.HasPrefix(file, "serviceaccount-"):
		return 1
	case strings.HasSuffix(file, "-registration.yaml"):
		return 3
	}
	return 2
}

// renderedObjects reads one stack's Kubernetes objects in applyOrder.
func renderedObjects(stack string) ([]rendered, error) {
	files, err := filepath.Glob(filepath.Join(renderDir, stack, "kubernetes", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool {
		oi, oj := applyOrder(filepath.Base(files[i])), applyOrder(filepath.Base(files[j]))
		if oi != oj {
			return oi < oj
		}
		return files[i] < files[j]
	})
	var out []rendered
	for _, f := range files {
		header, err := firstLine(f)
		if err != nil {
			return nil, err
		}
		_, provider, ok := strings.Cut(header, ", provider ")
		if !ok {
			return nil, fmt.Errorf("%s: no provider in its header %q", f, header)
		}
		objs, err := kit.ReadObjects(f)
		if err != nil || len(objs) != 1 {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		out = append(out, rendered{file: filepath.Base(f), provider: provider, obj: objs[0]})
	}
	return out, nil
}

func firstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	return s.Text(), s.Err()
}

// gitopsTree gathers the gitops repo as the three stacks commit it.
func gitopsTree(tmp string) (string, error) {
	tree := filepath.Join(tmp, "gitops-tree")
	for _, s := range stacks {
		src := filepath.Join(renderDir, s, "repos", "tech-seminar-gitops")
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := os.CopyFS(tree, os.DirFS(src)); err != nil && !os.IsExist(err) {
			return "", err
		}
	}
	return tree, nil
}

// installPlatform starts the gitops repo's server, installs the CRDs, and
// applies every stack's rendered objects to the cluster the program sends
// them to: its own environment's, or the hub's. Only addresses change: the
// clusters' API servers and the gitops repo are on loopback here, and the
// argocd-manager token is read back from each cluster as pulumi up reads it.
func installPlatform(tmp string) error {
	tree, err := gitopsTree(tmp)
	if err != nil {
		return err
	}
	if git, err = startGitServer(filepath.Join(tmp, "git"), tree); err != nil {
		return err
	}
	appliers := map[string]*kit.Applier{}
	for _, s := range stacks {
		a, err := kit.NewApplier(envs[s].cluster.Config)
		if err != nil {
			return err
		}
		appliers[s] = a
		crds := []kit.CRDSource{{Module: "github.com/prometheus-operator/prometheus-operator@v0.85.0", Dir: "example/prometheus-operator-crd"}}
		if s == "dev" {
			crds = append(crds, kit.CRDSource{Module: "github.com/argoproj/argo-cd/v3@v3.3.5", Dir: "manifests/crds"})
		}
		if err := a.InstallCRDs(crds); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	values, err := kit.HelmValues(renderDir)
	if err != nil {
		return err
	}
	config, err := kit.ArgoCDConfigFromValues(values)
	if err != nil {
		return err
	}
	if err := addStandIns(config); err != nil {
		return err
	}
	if webhookSecret = config.Secret["webhook.github.secret"]; webhookSecret == "" {
		return fmt.Errorf("the hub's Argo CD values carry no webhook secret (argocdUrl is set)")
	}
	for _, s := range stacks {
		objs, err := renderedObjects(s)
		if err != nil {
			return err
		}
		for _, r := range objs {
			{
				if err := adapt(s, r.obj); err != nil {
					return fmt.Errorf("%s %s: %w", s, r.file, err)
				}
				target := s
				if r.provider == "hub" {
					target = "dev"
				}
				if err := appliers[target].Apply(r.obj); err != nil {
					return fmt.Errorf("%s %s: %w", s, r.file, err)
				}
				if s == "dev" && r.obj.GetKind() == "Namespace" && r.obj.GetName() == argocdNamespace {
					if err := config.Apply(envs["dev"].kube, git.knownHosts); err != nil {
						return err
					}
				}
			}
		}
	}
	return writeArgoCDKubeconfig()
}

// writeArgoCDKubeconfig is the hub's admin kubeconfig in the argocd
// namespace: the identity Argo CD's own components have on the hub (the
// chart's). Every cluster it deploys to, the hub included, it reaches with
// argocd-manager's token from the cluster Secrets.
func writeArgoCDKubeconfig() error {
	e := envs["dev"]
	e.argocdKubeconfig = filepath.Join(e.cluster.Dir, "argocd.kubeconfig")
	return writeKubeconfig(e.argocdKubeconfig, e.cluster, "dev", argocdNamespace)
}

// adapt changes a rendered object for this machine, and nothing else: the
// addresses of the clusters and of the gitops repo, the deploy key and the
// token only the cloud or the cluster would know, and the Slack receiver.
func adapt(stack string, o *unstructured.Unstructured) error {
	switch {
	case o.GetKind() == "Secret" && o.GetLabels()["argocd.argoproj.io/secret-type"] == "cluster":
		return adaptClusterSecret(stack, o)
	case o.GetKind() == "Secret" && o.GetLabels()["argocd.argoproj.io/secret-type"] == "repository":
		if err := unstructured.SetNestedField(o.Object, git.url, "stringData", "url"); err != nil {
			return err
		}
		return unstructured.SetNestedField(o.Object, git.argocd.privateKey, "stringData", "sshPrivateKey")
	case o.GetKind() == "Secret" && o.GetName() == "argocd-notifications-secret":
		return unstructured.SetNestedField(o.Object, slack.srv.URL+"/services/T0/B0/live", "stringData", "slack-webhook-url")
	case o.GetKind() == "AppProject":
		return unstructured.SetNestedStringSlice(o.Object, []string{git.url}, "spec", "sourceRepos")
	case o.GetKind() == "ApplicationSet":
		return unstructured.SetNestedField(o.Object, git.url, "spec", "template", "spec", "source", "repoURL")
	}
	return nil
}

// adaptClusterSecret points the registration at the environment's API
// server on loopback and gives it argocd-manager's token, as pulumi up
// reads it from the token Secret once Kubernetes has filled it in.
func adaptClusterSecret(stack string, o *unstructured.Unstructured) error {
	e := envs[stack]
	var token string
	if err := waitFor(60*time.Second, stack+"'s argocd-manager token", func() (bool, error) {
		s, err := e.kube.CoreV1().Secrets("kube-system").Get(context.Background(), "argocd-manager-token", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		token = string(s.Data["token"])
		return token != "", nil
	}); err != nil {
		return fmt.Errorf("%w\n%s", err, e.failed())
	}
	raw, _, _ := unstructured.NestedString(o.Object, "stringData", "config")
	var config map[string]any
	if err := json.Unmarshal([]byte(raw), &config); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	config["bearerToken"] = token
	b, err := json.Marshal(config)
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(o.Object, string(b), "stringData", "config"); err != nil {
		return err
	}
	return unstructured.SetNestedField(o.Object, e.URL(), "stringData", "server")
}
