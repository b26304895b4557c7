package live

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// binaries are the tier's programs, built from the Go module proxy by the
// wrapper modules in ../tools and cached.
type binaries struct {
	controllerManager, scheduler, kwok, argocd string
}

func buildBinaries(cache string) (*binaries, error) {
	var b binaries
	for _, t := range []struct {
		tool tools.Tool
		path *string
	}{{tools.KubeControllerManager, &b.controllerManager}, {tools.KubeScheduler, &b.scheduler}, {tools.Kwok, &b.kwok}, {tools.ArgoCD, &b.argocd}} {
		path, err := t.tool.Build(cache, os.Stderr)
		if err != nil {
			return nil, err
		}
		*t.path = path
	}
	return &b, nil
}

// env is one environment's cluster: etcd and kube-apiserver, with
// kube-controller-manager (the ServiceAccount token, Deployment,
// ReplicaSet, garbage and namespace controllers), kube-scheduler and kwok,
// which runs a simulated Node and makes its Pods Running and Ready.
type env struct {
	name       string
	cluster    *kit.Cluster
	procs      []*kit.Process
	kubeconfig string // the admin's
	// argocdKubeconfig is the admin's in the argocd namespace (the hub only).
	argocdKubeconfig string
	kube             kubernetes.Interface
	dyn              dynamic.Interface
}

// URL is the API server's address, as the hub's Argo CD dials it.
func (e *env) URL() string { return e.cluster.Config.Host }

func (e *env) stop() {
	if e == nil {
		return
	}
	kit.StopAll(e.procs)
	e.cluster.Stop()
}

// failed is the end of the log of every process of the environment.
func (e *env) failed() string {
	return kit.Tails(e.name+"/", append([]*kit.Process{e.cluster.API, e.cluster.Etcd}, e.procs...)...)
}

// writeKubeconfig writes an admin kubeconfig for the cluster, whose
// context has the given default namespace.
func writeKubeconfig(path string, c *kit.Cluster, context, namespace string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s-admin
  user:
    client-certificate-data: %[4]s
    client-key-data: %[5]s
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[1]s-admin, namespace: %[6]s}
current-context: %[1]s
`, context, c.Config.Host, base64.StdEncoding.EncodeToString(c.CAPEM),
		base64.StdEncoding.EncodeToString(c.PKI.AdminCertPEM), base64.StdEncoding.EncodeToString(c.PKI.AdminKeyPEM), namespace)
	return os.WriteFile(path, []byte(kc), 0o600)
}

func startEnv(cache, dir, name string, bins *binaries) (*env, error) {
	c, err := kit.StartCluster(cache, filepath.Join(dir, name), "live-"+name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	e := &env{name: name, cluster: c, kubeconfig: filepath.Join(c.Dir, "admin.kubeconfig")}
	if err := writeKubeconfig(e.kubeconfig, c, name, "default"); err != nil {
		e.stop()
		return nil, err
	}
	starts := []struct {
		name, bin string
		args      []string
	}{
		{"kube-controller-manager", bins.controllerManager, []string{
			"--kubeconfig", e.kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--service-account-private-key-file", c.PKI.SAKey, "--root-ca-file", c.PKI.CAFile,
			"--use-service-account-credentials=false", "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle",
			"--concurrent-deployment-syncs=2", "--concurrent-replicaset-syncs=2", "--v=1",
		}},
		{"kube-scheduler", bins.scheduler, []string{"--kubeconfig", e.kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=1"}},
		{"kwok", bins.kwok, []string{
			"--kubeconfig", e.kubeconfig,
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--cidr=10.0.0.1/24", "--node-ip=10.0.0.1",
			"--server-address=",
		}},
	}
	for _, s := range starts {
		p, err := kit.Start(c.Dir, s.name, s.bin, s.args...)
		if err != nil {
			e.stop()
			return nil, err
		}
		e.procs = append(e.procs, p)
	}
	if e.kube, err = kubernetes.NewForConfig(c.Config); err != nil {
		e.stop()
		return nil, err
	}
	if e.dyn, err = dynamic.NewForConfig(c.Config); err != nil {
		e.stop()
		return nil, err
	}
	if err := e.addNode(); err != nil {
		e.stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, e.failed())
	}
	return e, nil
}

// addNode registers the simulated Node kwok runs Pods on, and waits until
// kwok reports it Ready.
func (e *env) addNode() error {
	ctx := context.Background()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "kwok-node-0",
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", "type": "kwok"},
		},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	if _, err := e.kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := waitFor(90*time.Second, "the node Ready", func() (bool, error) {
		n, err := e.kube.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	// The API server taints a new Node not-ready; the node lifecycle
	// controller, which would lift it, is off (kwok's Node has no kubelet
	// whose heartbeats it could judge), so the tier lifts it.
	_, err := e.kube.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
	return err
}

// waitFor polls cond every half second until it holds, fails, or timeout.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s", what, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
