package live

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// gitopsRepoPath is where the git server serves the gitops repo, as GitHub
// serves OWNER/REPO.git.
const gitopsRepoPath = "/gitops-seminar/tech-seminar-gitops.git"

// gitServer serves the gitops repo (a bare repository) over SSH on a
// loopback port. The SSH server runs in this process
// (golang.org/x/crypto/ssh); the git programs behind it are git's own
// (`git upload-pack`, `git receive-pack`), as on GitHub. It accepts exactly
// the gitops repo's deploy keys the program renders, each with the access
// the render gives it: a read-only key may fetch and not push.
type gitServer struct {
	listener   net.Listener
	bare       string // the repository on disk
	work       string // a clone whose origin is the repository, as the CI's is
	url        string // ssh://git@127.0.0.1:<port><gitopsRepoPath>
	knownHosts string // ssh_known_hosts line for the server
	knownFile  string // a file holding knownHosts, for git's ssh
	// keys are the rendered deploy keys, by the name of the tls key the
	// program makes for each.
	keys map[string]*deployKey
	// argocd is the key Argo CD reads with (read-only), ci the one the
	// CI's release job pushes with.
	argocd, ci *deployKey
	wg         sync.WaitGroup
	mu         sync.Mutex
	log        []string // what each connection did, for a failed assertion
}

// deployKey is a rendered RepositoryDeployKey with a key pair made here
// (the render's keys are computed: pulumi-tls makes them at up).
type deployKey struct {
	name, title string
	readOnly    bool
	privateKey  string // OpenSSH PEM, what the repository Secret holds
	public      ssh.PublicKey
	file        string // the private key on disk, for git's ssh
}

// sshKeyPair makes an ED25519 key: its OpenSSH private key and its public key.
func sshKeyPair() (string, ssh.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return "", nil, nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", nil, nil, err
	}
	return string(pem.EncodeToMemory(block)), sshPub, priv, nil
}

// computedKey reads the tls key a rendered value is computed from:
// "[computed tls:index/privateKey:PrivateKey NAME.publicKeyOpenssh]".
var computedKey = regexp.MustCompile(`^\[computed tls:index/privateKey:PrivateKey ([^ .]+)\.(publicKeyOpenssh|privateKeyOpenssh)\]$`)

// renderedDeployKeys are the deploy keys the hub's render installs on the
// gitops repo, and which of them Argo CD's repository credential and the
// CI's GITOPS_DEPLOY_KEY hold.
func renderedDeployKeys(renderDir string) (keys map[string]*deployKey, argocd, ci string, err error) {
	b, err := os.ReadFile(filepath.Join(renderDir, "dev", "resources.json"))
	if err != nil {
		return nil, "", "", err
	}
	var resources []struct {
		Type   string         `json:"type"`
		Name   string         `json:"name"`
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal(b, &resources); err != nil {
		return nil, "", "", err
	}
	keys = map[string]*deployKey{}
	keyOf := func(v any) string {
		s, _ := v.(string)
		if m := computedKey.FindStringSubmatch(s); m != nil {
			return m[1]
		}
		return ""
	}
	for _, r := range resources {
		switch {
		case r.Type == "github:index/repositoryDeployKey:RepositoryDeployKey" && r.Inputs["repository"] == "tech-seminar-gitops":
			name := keyOf(r.Inputs["key"])
			readOnly, ok := r.Inputs["readOnly"].(bool)
			if name == "" || !ok {
				return nil, "", "", fmt.Errorf("deploy key %s: key %v, readOnly %v: not what the tier reads", r.Name, r.Inputs["key"], r.Inputs["readOnly"])
			}
			title, _ := r.Inputs["title"].(string)
			keys[name] = &deployKey{name: name, title: title, readOnly: readOnly}
		case r.Type == "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret" && r.Inputs["secretName"] == "GITOPS_DEPLOY_KEY":
			ci = keyOf(r.Inputs["value"])
		}
	}
	// Argo CD's repository credential is the repos component's
	// argocdDeployKey output, a Secret's string in the render.
	objs, err := renderedObjects("dev")
	if err != nil {
		return nil, "", "", err
	}
	for _, o := range objs {
		if o.obj.GetKind() == "Secret" && o.obj.GetLabels()["argocd.argoproj.io/secret-type"] == "repository" {
			key, _ := o.obj.Object["stringData"].(map[string]any)
			argocd = keyOf(key["sshPrivateKey"])
		}
	}
	if keys[argocd] == nil || keys[ci] == nil {
		return nil, "", "", fmt.Errorf("Argo CD's key (%q) and the CI's (%q) are not both deploy keys of the gitops repo in the render", argocd, ci)
	}
	return keys, argocd, ci, nil
}

// startGitServer writes the gitops tree into a bare repository and serves
// it over SSH on loopback to the rendered deploy keys.
func startGitServer(dir, tree string) (*gitServer, error) {
	g := &gitServer{bare: filepath.Join(dir, "tech-seminar-gitops.git"), work: filepath.Join(dir, "gitops-work")}
	keys, argocd, ci, err := renderedDeployKeys(renderDir)
	if err != nil {
		return nil, err
	}
	g.keys, g.argocd, g.ci = keys, keys[argocd], keys[ci]
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.privateKey, k.public, _, err = sshKeyPair(); err != nil {
			return nil, err
		}
		k.file = filepath.Join(dir, "keys", k.name)
		if err := os.WriteFile(k.file, []byte(k.privateKey), 0o600); err != nil {
			return nil, err
		}
	}
	_, hostPub, hostPriv, err := sshKeyPair()
	if err != nil {
		return nil, err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	if g.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	port := g.listener.Addr().(*net.TCPAddr).Port
	g.url = fmt.Sprintf("ssh://git@127.0.0.1:%d%s", port, gitopsRepoPath)
	g.knownHosts = fmt.Sprintf("[127.0.0.1]:%d %s", port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub))))
	g.knownFile = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(g.knownFile, []byte(g.knownHosts+"\n"), 0o600); err != nil {
		return nil, err
	}
	config := &ssh.ServerConfig{PublicKeyCallback: g.authorize}
	config.AddHostKey(hostSigner)
	g.wg.Add(1)
	go g.serve(config)

	// The work clone pushes over SSH with the CI's key, as the release job
	// does.
	if err := os.CopyFS(g.work, os.DirFS(tree)); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", g.work},
		{"-C", g.work, "add", "-A"},
		{"-C", g.work, "-c", "user.name=gitops-platform", "-c", "user.email=gitops-platform@example.com", "commit", "-qm", "Seed (the render of every stack)"},
		{"init", "-q", "--bare", "-b", "main", g.bare},
		{"-C", g.work, "remote", "add", "origin", g.url},
		{"-C", g.work, "config", "core.sshCommand", g.sshCommand(g.ci)},
		{"-C", g.work, "config", "user.name", "gitops-platform live tier"},
		{"-C", g.work, "config", "user.email", "live@example.com"},
		{"-C", g.work, "push", "-q", "origin", "HEAD:main"},
		{"-C", g.work, "branch", "-q", "--set-upstream-to", "origin/main"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			g.stop()
			return nil, fmt.Errorf("git %v: %w\n%s\nthe git server's log:\n%s", args, err, out, g.logs())
		}
	}
	return g, nil
}

// authorize lets in the rendered deploy keys and no other.
func (g *gitServer) authorize(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	for _, k := range g.keys {
		if string(k.public.Marshal()) == string(key.Marshal()) {
			return &ssh.Permissions{Extensions: map[string]string{"key": k.name}}, nil
		}
	}
	g.record("refused %s key %s", meta.User(), ssh.FingerprintSHA256(key))
	return nil, errors.New("not a deploy key of this repository")
}

func (g *gitServer) record(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log = append(g.log, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// logs is what the server did, for a failed assertion.
func (g *gitServer) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.log, "\n")
}

func (g *gitServer) stop() {
	if g == nil || g.listener == nil {
		return
	}
	g.listener.Close()
	g.wg.Wait()
}

func (g *gitServer) serve(config *ssh.ServerConfig) {
	defer g.wg.Done()
	for {
		conn, err := g.listener.Accept()
		if err != nil {
			return // closed by stop
		}
		go g.handle(conn, config)
	}
}

// handle runs one SSH connection: its session channels' git commands.
func (g *gitServer) handle(conn net.Conn, config *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, config)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	key := g.keys[sc.Permissions.Extensions["key"]]
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go g.session(ch, requests, key)
	}
}

// gitCommand is what a git client asks an SSH server to run:
// git-upload-pack '/OWNER/REPO.git' (or git-receive-pack).
var gitCommand = regexp.MustCompile(`^(git-upload-pack|git-receive-pack) '?([^']+?)'?$`)

// session serves one session: environment (GIT_PROTOCOL), then one exec of
// a git command on the gitops repo that the key may run.
func (g *gitServer) session(ch ssh.Channel, requests <-chan *ssh.Request, key *deployKey) {
	defer ch.Close()
	var env []string
	for req := range requests {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			status := g.run(ch, key, cmd.Command, env)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// run runs the git command on the repository, if the key may: the exit
// status goes back to the client, a refusal on stderr as GitHub words it.
func (g *gitServer) run(ch ssh.Channel, key *deployKey, command string, env []string) int {
	m := gitCommand.FindStringSubmatch(command)
	refuse := func(why string) int {
		g.record("%s: refused %q: %s", key.name, command, why)
		fmt.Fprintf(ch.Stderr(), "ERROR: %s\n", why)
		return 1
	}
	switch {
	case m == nil:
		return refuse("only git-upload-pack and git-receive-pack are served")
	case m[2] != gitopsRepoPath && m[2] != strings.TrimPrefix(gitopsRepoPath, "/"):
		return refuse("repository not found: " + m[2])
	case m[1] == "git-receive-pack" && key.readOnly:
		return refuse(fmt.Sprintf("The key you are authenticating with (%s) has been marked as read only.", key.title))
	}
	cmd := exec.Command("git", strings.TrimPrefix(m[1], "git-"), g.bare)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	// The client's input is copied by hand: a client may keep its side
	// open until the exit status comes, which would keep exec's own copy,
	// and so Wait, from ending.
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err == nil {
		go func() { _, _ = io.Copy(stdin, ch); stdin.Close() }()
		err = cmd.Wait()
	}
	g.record("%s: %s: %v", key.name, m[1], err)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(ch.Stderr(), "ERROR: %v\n", err)
		return 1
	}
	return 0
}

// sshCommand is git's ssh with key alone, strict host key checking
// against the server's key.
func (g *gitServer) sshCommand(key *deployKey) string {
	return fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s", key.file, g.knownFile)
}

// clone clones the repository over SSH with key into dir.
func (g *gitServer) clone(key *deployKey, dir string) error {
	cmd := exec.Command("git", "clone", "-q", "-c", "core.sshCommand="+g.sshCommand(key), g.url, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git clone with %s: %w: %s", key.name, err, out)
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

// TestDeployKeys asks the git server what each rendered deploy key may do,
// with git's own client over SSH: Argo CD's key fetches the gitops repo
// and its push is refused, leaving main where it was; the CI's key pushes
// (every tag bump and revert of TestDelivery went through it); a key the
// program did not render is not let in.
func TestDeployKeys(t *testing.T) {
	require.True(t, git.argocd.readOnly, "Argo CD's deploy key is rendered read-only")
	require.False(t, git.ci.readOnly, "the CI's deploy key is rendered with write access")
	main, err := git.git("ls-remote", "origin", "refs/heads/main")
	require.NoError(t, err, "the CI's key reads the repository")

	clone := filepath.Join(t.TempDir(), "argocd")
	require.NoError(t, git.clone(git.argocd, clone), "Argo CD's key fetches: %s", git.logs())
	require.NoError(t, os.WriteFile(filepath.Join(clone, "escape.txt"), []byte("no\n"), 0o644))
	for _, args := range [][]string{{"add", "escape.txt"}, {"-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qm", "escape"}} {
		out, err := exec.Command("git", append([]string{"-C", clone}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	out, err := exec.Command("git", "-C", clone, "push", "origin", "HEAD:main").CombinedOutput()
	require.Error(t, err, "Argo CD's read-only key pushed: %s", out)
	assert.Contains(t, string(out), "has been marked as read only")
	after, err := git.git("ls-remote", "origin", "refs/heads/main")
	require.NoError(t, err)
	assert.Equal(t, main, after, "the refused push left main where it was")

	// A key of the same kind that the program did not render.
	stranger := &deployKey{name: "stranger", file: filepath.Join(t.TempDir(), "stranger")}
	private, _, _, err := sshKeyPair()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stranger.file, []byte(private), 0o600))
	assert.Error(t, git.clone(stranger, filepath.Join(t.TempDir(), "stranger-clone")), "a key the program did not render is let in")
	assert.Contains(t, git.logs(), "refused git key")
}
