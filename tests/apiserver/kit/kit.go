// Package kit starts the real servers the test tiers run: etcd and
// kube-apiserver (and, for the live tier, the rest of a cluster), built
// from the Go module proxy and cached by package tools.
package kit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/tools"
	"k8s.io/client-go/rest"
)

// PKI is the server's certificates and the admin's client certificate.
type PKI struct {
	dir                                  string
	CAPEM, AdminCertPEM, AdminKeyPEM     []byte
	CAFile, ServerCert, ServerKey, SAKey string
	SAPub                                string
}

func writePEM(path, typ string, der []byte) ([]byte, error) {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	return b, os.WriteFile(path, b, 0o600)
}

// NewPKI makes a CA, the API server's serving certificate (127.0.0.1,
// localhost, kubernetes.default.svc), an admin client certificate and the
// ServiceAccount signing key, in dir.
func NewPKI(dir string) (*PKI, error) {
	p := &PKI{dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	p.CAFile = filepath.Join(dir, "ca.crt")
	if p.CAPEM, err = writePEM(p.CAFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
	}
	certPEM, keyPEM, err := issue(2, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, []string{"localhost", "kubernetes", "kubernetes.default.svc"})
	if err != nil {
		return nil, err
	}
	p.ServerCert, p.ServerKey = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(p.ServerCert, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.ServerKey, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if p.AdminCertPEM, p.AdminKeyPEM, err = issue(3, pkix.Name{CommonName: "e2e-admin", Organization: []string{"system:masters"}},
		x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p.SAKey, p.SAPub = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if _, err := writePEM(p.SAKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(sa)); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	_, err = writePEM(p.SAPub, "PUBLIC KEY", pub)
	return p, err
}

func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a started server, stopped by its process group's PID.
type Process struct {
	name string
	Cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
}

func Start(dir, name, bin string, args ...string) (*Process, error) {
	return StartEnv(dir, name, bin, nil, args...)
}

// StartEnv starts bin with env added to this process's environment; its
// output goes to <dir>/<name>.log.
func StartEnv(dir, name, bin string, env []string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, killed with it; and killed by the kernel if
	// this test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logFile.Close()
	p := &Process{name: name, Cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// peakRSS is the process's high-water resident memory, from /proc.
func (p *Process) PeakRSS() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "?"
}

func (p *Process) Stop() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cluster is a running etcd and kube-apiserver.
type Cluster struct {
	Dir       string
	Etcd, API *Process
	// Config is the admin's: a client certificate in system:masters.
	Config  *rest.Config
	name    string
	pidFile string
	CAPEM   []byte
	PKI     *PKI
}

// killLeftovers stops servers a previous run left (Pdeathsig normally
// sees to that), by the PIDs it recorded: only a process still running one
// of the cached binaries, so a PID reused by something else is left alone.
func KillLeftovers(cache, pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Dir(exe) == cache {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	_ = os.Remove(pidFile)
}

// StartCluster starts etcd and kube-apiserver in dir; name tells its
// processes apart from another cluster's (the PID file kept in cache).
func StartCluster(cache, dir, name string) (*Cluster, error) {
	etcdBin, err := tools.Etcd.Build(cache, os.Stderr)
	if err != nil {
		return nil, err
	}
	apiBin, err := tools.KubeAPIServer.Build(cache, os.Stderr)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, name: name, pidFile: filepath.Join(cache, name+".pid")}
	KillLeftovers(cache, c.pidFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := NewPKI(dir)
	if err != nil {
		return nil, err
	}
	clientPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	if c.Etcd, err = Start(dir, "etcd", etcdBin, "--name", name, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", name+"="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		c.Stop()
		return nil, err
	}
	if c.API, err = Start(dir, "kube-apiserver", apiBin,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--endpoint-reconciler-type", "none", // a loopback advertise address
		"--tls-cert-file", p.ServerCert, "--tls-private-key-file", p.ServerKey, "--client-ca-file", p.CAFile,
		"--service-account-key-file", p.SAPub, "--service-account-signing-key-file", p.SAKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--authorization-mode", "RBAC", "--service-cluster-ip-range", "10.96.0.0/16",
		"--cert-dir", filepath.Join(dir, "certs"), "--enable-priority-and-fairness=false", "--v", "1"); err != nil {
		c.Stop()
		return nil, err
	}
	_ = os.WriteFile(c.pidFile, []byte(fmt.Sprintf("%d %d\n", c.Etcd.Cmd.Process.Pid, c.API.Cmd.Process.Pid)), 0o600)
	c.CAPEM, c.PKI = p.CAPEM, p
	c.Config = &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", apiPort),
		TLSClientConfig: rest.TLSClientConfig{CAData: p.CAPEM, CertData: p.AdminCertPEM, KeyData: p.AdminKeyPEM},
		QPS:             200, Burst: 400,
	}
	if err := c.WaitReady(90 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) WaitReady(timeout time.Duration) error {
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		if c.API.Exited() || c.Etcd.Exited() {
			last = errors.New("a server exited")
			break
		}
		resp, err := client.Get(c.Config.Host + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s (%v); its log ends:\n%s\netcd's:\n%s", timeout, last, c.API.Tail(), c.Etcd.Tail())
}

func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	if c.API != nil && c.Etcd != nil {
		fmt.Fprintf(os.Stderr, "%s: peak memory kube-apiserver %s, etcd %s\n", c.name, c.API.PeakRSS(), c.Etcd.PeakRSS())
	}
	c.API.Stop()
	c.Etcd.Stop()
	_ = os.Remove(c.pidFile)
}

// Name is the name the process was started with (its log is <name>.log).
func (p *Process) Name() string { return p.name }

// Main runs a tier's tests: setup prepares them in a temporary directory
// (named after the tier), and stop ends every process the tier started,
// when the tests end or on SIGINT or SIGTERM, however they end. The
// directory goes too, unless keep (for a look at the logs).
func Main(m *testing.M, tier string, keep bool, setup func(tmp string) error, stop func()) int {
	tmp, err := os.MkdirTemp("", "gitops-platform-"+tier+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !keep {
		defer os.RemoveAll(tmp)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		stop()
		if !keep {
			os.RemoveAll(tmp)
		}
		os.Exit(2)
	}()
	defer stop()
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "%s setup: %v\n", tier, err)
		return 1
	}
	return m.Run()
}

// StopAll stops processes in the reverse of the order they started.
func StopAll(procs []*Process) {
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// Tails is the end of every process's log, each headed by prefix and its
// name, for a failed assertion.
func Tails(prefix string, procs ...*Process) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "--- %s%s (exited: %v); its log ends:\n%s\n", prefix, p.Name(), p.Exited(), p.Tail())
	}
	return b.String()
}
