package live

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-platform/gitops-platform/tests/apiserver/kit"
	"golang.org/x/crypto/ssh"
)

// gitServer is Debian's OpenSSH server on a loopback port, serving the
// gitops repo (a bare repository) to one key: Argo CD's deploy key.
type gitServer struct {
	sshd       *kit.Process
	port       int
	bare       string // the repository's path
	work       string // a clone whose origin is the repository, as the CI's and people's are
	url        string // ssh://root@127.0.0.1:<port><bare>
	knownHosts string // ssh_known_hosts line for the server
	privateKey string // the deploy key, OpenSSH PEM (what the repository Secret holds)
}

// sshKeyPair makes an ED25519 key: its OpenSSH private key and its
// authorized_keys line.
func sshKeyPair() (private string, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return "", "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(block)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), nil
}

func sshdPath() (string, error) {
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("sshd is missing: install Debian's openssh-server (.ci/run does)")
}

// startGitServer writes the gitops tree into a bare repository and serves
// it over SSH on loopback.
func startGitServer(dir, tree string) (*gitServer, error) {
	sshd, err := sshdPath()
	if err != nil {
		return nil, err
	}
	g := &gitServer{bare: filepath.Join(dir, "tech-seminar-gitops.git")}
	work := filepath.Join(dir, "gitops-work")
	g.work = work
	if err := os.CopyFS(work, os.DirFS(tree)); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", work},
		{"-C", work, "add", "-A"},
		{"-C", work, "-c", "user.name=gitops-platform", "-c", "user.email=gitops-platform@example.com", "commit", "-qm", "Seed (the render of every stack)"},
		{"clone", "-q", "--bare", work, g.bare},
		{"-C", work, "remote", "add", "origin", g.bare},
		{"-C", work, "config", "user.name", "gitops-platform live tier"},
		{"-C", work, "config", "user.email", "live@example.com"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("git %v: %w\n%s", args, err, out)
		}
	}
	hostPriv, hostPub, err := sshKeyPair()
	if err != nil {
		return nil, err
	}
	clientPriv, clientPub, err := sshKeyPair()
	if err != nil {
		return nil, err
	}
	g.privateKey = clientPriv
	sshDir := filepath.Join(dir, "sshd")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return nil, err
	}
	hostKey := filepath.Join(sshDir, "host_ed25519")
	authorized := filepath.Join(sshDir, "authorized_keys")
	for path, content := range map[string]string{hostKey: hostPriv, authorized: clientPub + "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	if g.port, err = kit.FreePort(); err != nil {
		return nil, err
	}
	config := filepath.Join(sshDir, "sshd_config")
	if err := os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1", "Port " + strconv.Itoa(g.port), "HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized, "PasswordAuthentication no", "KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "PidFile " + filepath.Join(sshDir, "sshd.pid"),
		"LogLevel VERBOSE", "",
	}, "\n")), 0o600); err != nil {
		return nil, err
	}
	// -D: in the foreground, stopped with its process group; -e: log to stderr.
	if g.sshd, err = kit.Start(dir, "sshd", sshd, "-D", "-e", "-f", config); err != nil {
		return nil, err
	}
	g.url = fmt.Sprintf("ssh://root@127.0.0.1:%d%s", g.port, g.bare)
	g.knownHosts = fmt.Sprintf("[127.0.0.1]:%d %s", g.port, hostPub)
	// Ready when a client with the deploy key lists the repository.
	if err := waitFor(30*time.Second, "sshd serving the repository", func() (bool, error) {
		return g.lsRemote(dir) == nil, nil
	}); err != nil {
		return nil, fmt.Errorf("%w; %v; sshd's log ends:\n%s", err, g.lsRemote(dir), g.sshd.Tail())
	}
	return g, nil
}

// lsRemote runs `git ls-remote` over SSH as Argo CD does: the deploy key,
// strict host key checking against the known hosts line.
func (g *gitServer) lsRemote(dir string) error {
	key := filepath.Join(dir, "client_key")
	known := filepath.Join(dir, "client_known_hosts")
	if err := os.WriteFile(key, []byte(g.privateKey), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(known, []byte(g.knownHosts+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("git", "ls-remote", g.url)
	cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=ssh -i "+key+" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="+known)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git ls-remote: %w: %s", err, out)
	}
	return nil
}

// git runs git in the work clone.
func (g *gitServer) git(args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", g.work}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %v: %w\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// head is the work clone's commit.
func (g *gitServer) head() (string, error) { return g.git("rev-parse", "HEAD") }
