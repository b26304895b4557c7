package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// labMinikube stands in for minikube: it records its argv, answers
// `status -p <profile>` from the state dir (running after a start) and fails
// `start` for the profile named in LAB_FAIL_PROFILE.
const labMinikube = `#!/bin/sh
{ printf 'minikube'; printf ' %s' "$@"; echo; } >>"$LAB_LOG"
profile=; prev=
for a in "$@"; do [ "$prev" = "-p" ] && profile=$a; prev=$a; done
case "$1" in
status)
  if [ -f "$LAB_STATE/$profile.running" ]; then echo "host: Running"; exit 0; fi
  echo "host: Stopped"; exit 7 ;;
start)
  if [ "$profile" = "${LAB_FAIL_PROFILE:-}" ]; then echo "X Exiting due to GUEST_PROVISION: $profile" >&2; exit 80; fi
  touch "$LAB_STATE/$profile.running" ;;
*) echo "unexpected: minikube $*" >&2; exit 2 ;;
esac
`

// labDocker stands in for docker: it records its argv, answers dev's subnet
// (LAB_SUBNET) and its containers ("<name> <ip>/24" lines in $LAB_STATE/dev.net),
// and keeps that list up to date on network connect and disconnect.
const labDocker = `#!/bin/sh
{ printf 'docker'; printf ' %s' "$@"; echo; } >>"$LAB_LOG"
net="$LAB_STATE/dev.net"
case "$1 $2" in
"network inspect")
  [ "$3" = dev ] || { echo "Error: No such network: $3" >&2; exit 1; }
  case "$*" in
  *Subnet*) echo "$LAB_SUBNET" ;;
  *Containers*) cat "$net" ;;
  *) echo "unexpected: docker $*" >&2; exit 2 ;;
  esac ;;
"network connect")
  [ "$3" = --ip ] && [ "$5" = dev ] || { echo "unexpected: docker $*" >&2; exit 2; }
  echo "$6 $4/24" >>"$net" ;;
"network disconnect")
  [ "$3" = dev ] || { echo "unexpected: docker $*" >&2; exit 2; }
  grep -v "^$4 " "$net" >"$net.new" || true; mv "$net.new" "$net" ;;
*) echo "unexpected: docker $*" >&2; exit 2 ;;
esac
`

// labKubectl stands in for kubectl: it records its argv and answers the
// architecture of dev's node (LAB_ARCH, amd64 unless set).
const labKubectl = `#!/bin/sh
{ printf 'kubectl'; printf ' %s' "$@"; echo; } >>"$LAB_LOG"
case "$*" in
"--context dev get nodes -o jsonpath={.items[0].status.nodeInfo.architecture}") printf '%s' "${LAB_ARCH:-amd64}" ;;
*) echo "unexpected: kubectl $*" >&2; exit 2 ;;
esac
`

// labStaleServer is the clusterServer the copied stack files start with: the
// node IP on the profile's own network, which the hub cannot reach.
const labStaleServer = "  gitops-platform:clusterServer: https://192.168.58.2:8443"

// labRig is a copy of the project (scripts/lab and the stack files) with
// stand-ins for minikube and docker on a PATH of their own.
type labRig struct {
	dir, tools, state, log, subnet string
}

// newLabRig copies the project and gives dev's network the subnet, with dev's
// node at .2 on it; the stack files start with labStaleServer.
func newLabRig(t *testing.T, subnet string) *labRig {
	t.Helper()
	r := &labRig{dir: t.TempDir(), tools: t.TempDir(), state: t.TempDir(), subnet: subnet}
	r.log = filepath.Join(r.state, "calls.log")
	script, err := os.ReadFile(filepath.Join(projectDir, "scripts", "lab"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "scripts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "scripts", "lab"), script, 0o755))
	stackFiles, err := filepath.Glob(filepath.Join(projectDir, "Pulumi.*yaml"))
	require.NoError(t, err)
	for _, f := range stackFiles {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(r.dir, filepath.Base(f)), b, 0o644))
	}
	for _, env := range []string{"staging", "prod"} {
		lines := labOriginal(t, env)
		i := labServerLine(t, lines)
		lines[i] = labStaleServer
		r.writeStack(t, env, strings.Join(lines, "\n"))
	}
	require.NoError(t, os.WriteFile(filepath.Join(r.tools, "minikube"), []byte(labMinikube), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(r.tools, "docker"), []byte(labDocker), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(r.tools, "kubectl"), []byte(labKubectl), 0o755))
	prefix := strings.TrimSuffix(subnet, ".0/24")
	require.NoError(t, os.WriteFile(filepath.Join(r.state, "dev.net"), []byte("dev "+prefix+".2/24\n"), 0o644))
	return r
}

// run runs scripts/lab in the copy with the extra environment.
func (r *labRig) run(t *testing.T, env ...string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, filepath.Join(r.dir, "scripts", "lab"))
	cmd.Dir = t.TempDir() // the script finds the project from its own path
	cmd.Env = append([]string{
		"PATH=" + r.tools + ":/usr/bin:/bin", "HOME=" + t.TempDir(),
		"LAB_LOG=" + r.log, "LAB_STATE=" + r.state, "LAB_SUBNET=" + r.subnet,
	}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// calls is every stand-in invocation so far, in order, and empties the log.
func (r *labRig) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	require.NoError(t, os.Remove(r.log))
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (r *labRig) stack(t *testing.T, env string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "Pulumi."+env+".yaml"))
	require.NoError(t, err)
	return string(b)
}

func (r *labRig) writeStack(t *testing.T, env, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "Pulumi."+env+".yaml"), []byte(content), 0o644))
}

// restart is what a minikube restart leaves: dev stopped, and only dev's own
// node on its network.
func (r *labRig) restart(t *testing.T) {
	t.Helper()
	require.NoError(t, os.Remove(filepath.Join(r.state, "dev.running")))
	prefix := strings.TrimSuffix(r.subnet, ".0/24")
	require.NoError(t, os.WriteFile(filepath.Join(r.state, "dev.net"), []byte("dev "+prefix+".2/24\n"), 0o644))
}

// labOriginal is the project's stack file, line by line.
func labOriginal(t *testing.T, env string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+env+".yaml"))
	require.NoError(t, err)
	return strings.Split(string(b), "\n")
}

func labServerLine(t *testing.T, lines []string) int {
	t.Helper()
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "gitops-platform:clusterServer:") {
			return i
		}
	}
	require.Fail(t, "no clusterServer line")
	return -1
}

// assertStackServer checks that the stack file is the project's, line for
// line, but for clusterServer, which is the given server.
func assertStackServer(t *testing.T, r *labRig, env, server string) {
	t.Helper()
	want := labOriginal(t, env)
	want[labServerLine(t, want)] = "  gitops-platform:clusterServer: " + server
	assert.Equal(t, strings.Join(want, "\n"), r.stack(t, env), "Pulumi.%s.yaml", env)
}

// labIndex is the index of the first call that starts with prefix, or -1.
func labIndex(calls []string, prefix string) int {
	for i, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

func labCount(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

var (
	labAPIServerIPs = regexp.MustCompile(`(?:^| )--apiserver-ips=(\S+)`)
	labConnectIP    = regexp.MustCompile(`^docker network connect --ip (\S+) dev (\S+)$`)
)

// assertPinned checks that the profile was started (Kubernetes v1.33.0, docker
// driver) with --apiserver-ips equal to the address it was then connected to
// dev's network with, and that this address is want.
func assertPinned(t *testing.T, calls []string, profile, want string) {
	t.Helper()
	start := labIndex(calls, "minikube start -p "+profile+" ")
	require.GreaterOrEqual(t, start, 0, "minikube start -p %s: %v", profile, calls)
	assert.Contains(t, calls[start], " --kubernetes-version v1.33.0")
	assert.Contains(t, calls[start], " --driver docker")
	m := labAPIServerIPs.FindStringSubmatch(calls[start])
	require.NotNil(t, m, "%s started without --apiserver-ips: %s", profile, calls[start])
	connect := -1
	for i, c := range calls {
		if cm := labConnectIP.FindStringSubmatch(c); cm != nil && cm[2] == profile {
			require.Equal(t, -1, connect, "%s connected twice: %v", profile, calls)
			connect = i
			assert.Equal(t, m[1], cm[1], "%s: the certificate's address is the one the hub dials", profile)
		}
	}
	require.GreaterOrEqual(t, connect, 0, "no docker network connect --ip ... dev %s: %v", profile, calls)
	assert.Greater(t, connect, start, "%s is connected after it is started", profile)
	assert.Equal(t, "docker network connect --ip "+want+" dev "+profile, calls[connect])
}

// TestLabCreatesTheLabWithPinnedAddresses checks that make lab starts dev
// first, then staging and prod with certificates for .3 and .4 of dev's network,
// connects them there and writes those addresses into the stack files alone.
func TestLabCreatesTheLabWithPinnedAddresses(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	out, err := r.run(t)
	require.NoError(t, err, out)
	calls := r.calls(t)

	dev := labIndex(calls, "minikube start -p dev ")
	staging := labIndex(calls, "minikube start -p staging ")
	prod := labIndex(calls, "minikube start -p prod ")
	require.GreaterOrEqual(t, dev, 0, "dev is not running, so it is started: %v", calls)
	assert.Equal(t, "minikube start -p dev --driver docker --kubernetes-version v1.33.0 --cpus 3 --memory 4096", calls[dev])
	assert.Less(t, dev, staging, "the hub starts before staging")
	assert.Less(t, staging, prod, "staging starts before prod")
	subnet := labIndex(calls, "docker network inspect dev -f {{(index .IPAM.Config 0).Subnet}}")
	assert.Less(t, dev, subnet, "dev's network is read once dev is up")
	assert.Less(t, subnet, staging, "the addresses are known before staging starts")
	assertPinned(t, calls, "staging", "192.168.49.3")
	assertPinned(t, calls, "prod", "192.168.49.4")
	assert.Zero(t, labCount(calls, "docker network disconnect"))

	assertStackServer(t, r, "staging", "https://192.168.49.3:8443")
	assertStackServer(t, r, "prod", "https://192.168.49.4:8443")
	assert.Equal(t, strings.Join(labOriginal(t, "dev"), "\n"), r.stack(t, "dev"), "the hub's stack file is not touched")
	assert.Contains(t, out, "connecting staging to dev's network at 192.168.49.3")
	assert.Contains(t, out, "next: make up")
}

// TestLabRerunOnlyReconnects checks that a second make lab connects nothing
// and changes no file, and that after a minikube restart it starts dev and
// reconnects staging and prod at the same addresses.
func TestLabRerunOnlyReconnects(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	out, err := r.run(t)
	require.NoError(t, err, out)
	r.calls(t)
	staging, prod := r.stack(t, "staging"), r.stack(t, "prod")

	out, err = r.run(t)
	require.NoError(t, err, out)
	calls := r.calls(t)
	assert.Zero(t, labCount(calls, "docker network connect"), "already connected: %v", calls)
	assert.Zero(t, labCount(calls, "docker network disconnect"), "already connected: %v", calls)
	assert.Zero(t, labCount(calls, "minikube start -p dev "), "dev is running: %v", calls)
	assert.Contains(t, out, "staging is already connected to dev's network at 192.168.49.3")
	assert.Contains(t, out, "clusterServer is already https://192.168.49.4:8443")
	assert.Equal(t, staging, r.stack(t, "staging"))
	assert.Equal(t, prod, r.stack(t, "prod"))

	r.restart(t)
	out, err = r.run(t)
	require.NoError(t, err, out)
	calls = r.calls(t)
	assert.Equal(t, 1, labCount(calls, "minikube start -p dev "), "dev stopped with the restart: %v", calls)
	assertPinned(t, calls, "staging", "192.168.49.3")
	assertPinned(t, calls, "prod", "192.168.49.4")
	assert.Equal(t, staging, r.stack(t, "staging"))
	assert.Equal(t, prod, r.stack(t, "prod"))
}

// TestLabFollowsTheHubsSubnet checks that the addresses are .3 and .4 of
// whatever /24 minikube gave dev's network.
func TestLabFollowsTheHubsSubnet(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.58.0/24")
	out, err := r.run(t)
	require.NoError(t, err, out)
	calls := r.calls(t)
	assertPinned(t, calls, "staging", "192.168.58.3")
	assertPinned(t, calls, "prod", "192.168.58.4")
	assertStackServer(t, r, "staging", "https://192.168.58.3:8443")
	assertStackServer(t, r, "prod", "https://192.168.58.4:8443")
}

// TestLabSizesTheHubFromTheEnvironment checks that LAB_CPUS and LAB_MEMORY
// size dev, and LAB_ENV_CPUS and LAB_ENV_MEMORY size staging and prod.
func TestLabSizesTheHubFromTheEnvironment(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	out, err := r.run(t, "LAB_CPUS=4", "LAB_MEMORY=8192")
	require.NoError(t, err, out)
	calls := r.calls(t)
	assert.Contains(t, calls[labIndex(calls, "minikube start -p dev ")], " --cpus 4 --memory 8192")
	assert.NotContains(t, calls[labIndex(calls, "minikube start -p staging ")], "--cpus", "minikube's default")

	r.restart(t)
	out, err = r.run(t, "LAB_ENV_CPUS=2", "LAB_ENV_MEMORY=3072")
	require.NoError(t, err, out)
	calls = r.calls(t)
	assert.Contains(t, calls[labIndex(calls, "minikube start -p dev ")], " --cpus 3 --memory 4096")
	assert.Contains(t, calls[labIndex(calls, "minikube start -p prod ")], " --cpus 2 --memory 3072")
}

// TestLabRefusesASubnetOtherThanSlash24 checks that a hub network that is not
// a /24 stops make lab, naming the subnet, before staging or prod start and
// without touching the stack files.
func TestLabRefusesASubnetOtherThanSlash24(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "10.10.0.0/16")
	before := map[string]string{"staging": r.stack(t, "staging"), "prod": r.stack(t, "prod")}
	out, err := r.run(t)
	require.Error(t, err, out)
	assert.Contains(t, out, "has subnet '10.10.0.0/16'; only a /24")
	calls := r.calls(t)
	assert.Equal(t, -1, labIndex(calls, "minikube start -p staging"), "%v", calls)
	assert.Equal(t, -1, labIndex(calls, "minikube start -p prod"), "%v", calls)
	assert.Zero(t, labCount(calls, "docker network connect"))
	for env, content := range before {
		assert.Equal(t, content, r.stack(t, env), "Pulumi.%s.yaml is unchanged", env)
	}
	assert.NotContains(t, out, "next: make up")
}

// TestLabStopsWhenMinikubeFails checks that a failing minikube start stops make
// lab with a message naming the profile, before prod is connected and before
// either stack file is written.
func TestLabStopsWhenMinikubeFails(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	before := map[string]string{"staging": r.stack(t, "staging"), "prod": r.stack(t, "prod")}
	out, err := r.run(t, "LAB_FAIL_PROFILE=prod")
	require.Error(t, err, out)
	assert.Contains(t, out, "minikube start -p prod failed")
	calls := r.calls(t)
	assert.Zero(t, labCount(calls, "docker network connect --ip 192.168.49.4 "), "%v", calls)
	for env, content := range before {
		assert.Equal(t, content, r.stack(t, env), "Pulumi.%s.yaml is unchanged", env)
	}
	assert.NotContains(t, out, "next: make up")
}

// TestLabMovesHandConnectedProfilesToTheirAddresses checks that staging and
// prod connected by hand at each other's address are disconnected and
// connected again at their pinned ones.
func TestLabMovesHandConnectedProfilesToTheirAddresses(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	require.NoError(t, os.WriteFile(filepath.Join(r.state, "dev.net"),
		[]byte("dev 192.168.49.2/24\nprod 192.168.49.3/24\nstaging 192.168.49.4/24\n"), 0o644))
	out, err := r.run(t)
	require.NoError(t, err, out)
	calls := r.calls(t)
	assert.Equal(t, 2, labCount(calls, "docker network disconnect dev "), "%v", calls)
	assertPinned(t, calls, "staging", "192.168.49.3")
	assertPinned(t, calls, "prod", "192.168.49.4")
	net, err := os.ReadFile(filepath.Join(r.state, "dev.net"))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"dev 192.168.49.2/24", "staging 192.168.49.3/24", "prod 192.168.49.4/24"},
		strings.Split(strings.TrimSpace(string(net)), "\n"), "dev's network afterwards")
}

// TestLabRefusesAnAddressTakenByAnotherContainer checks that a pinned address
// held by a container outside the lab stops make lab, naming the container,
// and leaves the stack files alone.
func TestLabRefusesAnAddressTakenByAnotherContainer(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	require.NoError(t, os.WriteFile(filepath.Join(r.state, "dev.net"),
		[]byte("dev 192.168.49.2/24\nregistry 192.168.49.3/24\n"), 0o644))
	before := r.stack(t, "staging")
	out, err := r.run(t)
	require.Error(t, err, out)
	assert.Contains(t, out, "192.168.49.3 on docker network 'dev' is taken by container 'registry'")
	assert.Zero(t, labCount(r.calls(t), "docker network connect"))
	assert.Equal(t, before, r.stack(t, "staging"))
}

// TestLabBuildsTheFirstImageForTheNodes checks that make lab reads dev's
// node's architecture once dev is up: on arm64 (minikube on Apple silicon)
// it writes bootstrapImagePlatform: linux/arm64 into the hub's stack file,
// which the program accepts, and changes nothing else there; a second run
// writes nothing; an architecture the image is not built for stops it.
func TestLabBuildsTheFirstImageForTheNodes(t *testing.T) {
	t.Parallel()
	r := newLabRig(t, "192.168.49.0/24")
	out, err := r.run(t, "LAB_ARCH=arm64")
	require.NoError(t, err, out)
	calls := r.calls(t)
	assert.Less(t, labIndex(calls, "minikube start -p dev "), labIndex(calls, "kubectl --context dev get nodes"), "the node is read once dev is up")
	assert.Contains(t, out, "dev's node is arm64: the first image is built for linux/arm64")
	var want []string // the line goes right under config:
	for _, l := range labOriginal(t, "dev") {
		want = append(want, l)
		if l == "config:" {
			want = append(want, "  gitops-platform:bootstrapImagePlatform: linux/arm64")
		}
	}
	assert.Equal(t, strings.Join(want, "\n"), r.stack(t, "dev"))
	_, err = offline.LoadStack(r.dir, "dev")
	require.NoError(t, err)
	res, err := offline.Evaluate(r.dir, "dev", "")
	require.NoError(t, err)
	assert.Equal(t, "linux/arm64", path(one(t, res, "docker:index/image:Image").Inputs, "build", "platform").StringValue())

	dev := r.stack(t, "dev")
	out, err = r.run(t, "LAB_ARCH=arm64")
	require.NoError(t, err, out)
	assert.Contains(t, out, "bootstrapImagePlatform is already linux/arm64")
	assert.Equal(t, dev, r.stack(t, "dev"))

	out, err = r.run(t, "LAB_ARCH=s390x")
	require.Error(t, err)
	assert.Contains(t, out, "dev's node runs s390x; the app's image is built for amd64 and arm64 only")
}
