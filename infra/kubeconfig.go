package infra

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// ClusterAccess is what the kubeconfig tells about a context's cluster.
type ClusterAccess struct {
	// CAData is the cluster's CA bundle, base64 as Argo CD's caData wants it.
	CAData string
}

// KubeconfigReader finds a context's cluster in a kubeconfig ("" is the
// default: $KUBECONFIG, else ~/.kube/config).
type KubeconfigReader func(path, context string) (*ClusterAccess, error)

type kubeconfigReaderKey struct{}

// WithKubeconfigReader replaces how Run reads the kubeconfig; the offline
// render, which reads no kubeconfig unless given one, passes placeholders.
func WithKubeconfigReader(ctx *pulumi.Context, r KubeconfigReader) *pulumi.Context {
	return ctx.WithValue(kubeconfigReaderKey{}, r)
}

func kubeconfigReader(ctx *pulumi.Context) KubeconfigReader {
	if r, ok := ctx.Value(kubeconfigReaderKey{}).(KubeconfigReader); ok {
		return r
	}
	return ReadKubeconfig
}

// kubeconfig is the part of a kubeconfig file this program reads.
type kubeconfig struct {
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
		} `yaml:"context"`
	} `yaml:"contexts"`
}

// kubeconfigFiles lists the files kubectl would read, in order.
func kubeconfigFiles(path string) []string {
	if path != "" {
		return []string{path}
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return filepath.SplitList(env)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, ".kube", "config")}
}

// ReadKubeconfig reads a context's cluster CA from the kubeconfig. A CA given
// as a file (minikube's way) is read and embedded, since Argo CD on the hub
// cannot see this machine's files.
func ReadKubeconfig(path, context string) (*ClusterAccess, error) {
	files := kubeconfigFiles(path)
	if len(files) == 0 {
		return nil, errors.New("no kubeconfig: set kubeconfig, $KUBECONFIG or create ~/.kube/config")
	}
	var seen []string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			if path == "" && errors.Is(err, os.ErrNotExist) && len(files) > 1 {
				continue // kubectl skips missing files in $KUBECONFIG
			}
			return nil, fmt.Errorf("kubeconfig %s: %w", file, err)
		}
		var kc kubeconfig
		if err := yaml.Unmarshal(b, &kc); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", file, err)
		}
		for _, c := range kc.Contexts {
			seen = append(seen, c.Name)
			if c.Name != context {
				continue
			}
			for _, cl := range kc.Clusters {
				if cl.Name != c.Context.Cluster {
					continue
				}
				return clusterCA(file, cl.Name, cl.Cluster.CertificateAuthorityData, cl.Cluster.CertificateAuthority)
			}
			return nil, fmt.Errorf("kubeconfig %s: context %q names cluster %q, which it does not define", file, context, c.Context.Cluster)
		}
	}
	sort.Strings(seen)
	return nil, &ContextNotFoundError{Context: context, Files: files, Contexts: seen}
}

// ContextNotFoundError says a kube context is in none of the kubeconfig files.
type ContextNotFoundError struct {
	Context  string
	Files    []string
	Contexts []string
}

func (e *ContextNotFoundError) Error() string {
	return fmt.Sprintf("no context %q in %s (contexts there: %s)", e.Context, strings.Join(e.Files, ":"), strings.Join(e.Contexts, ", "))
}

func clusterCA(file, cluster, data, caFile string) (*ClusterAccess, error) {
	if data != "" {
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority-data is not base64", file, cluster)
		}
		return &ClusterAccess{CAData: data}, nil
	}
	if caFile == "" {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q has no certificate authority; Argo CD would have to skip TLS checks (clusterInsecure)", file, cluster)
	}
	if !filepath.IsAbs(caFile) {
		caFile = filepath.Join(filepath.Dir(file), caFile)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority %s: %w", file, cluster, caFile, err)
	}
	if !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		return nil, fmt.Errorf("kubeconfig %s: cluster %q: %s holds no PEM certificate", file, cluster, caFile)
	}
	return &ClusterAccess{CAData: base64.StdEncoding.EncodeToString(pem)}, nil
}
