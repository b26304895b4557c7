// Package offline runs the real program under the Pulumi SDK's mocks, as an
// update of a new stack with placeholders for what only the cloud knows, and
// records everything it registers. The render command and every test that
// inspects the program use it.
package offline

import (
	"encoding/base64"
	"fmt"
	"github.com/gitops-platform/gitops-platform/internal/platform"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Resource is one resource the program registered (or read).
type Resource struct {
	Type   string
	Name   string
	Custom bool
	// Read is true for resources the program reads (a StackReference).
	Read   bool
	Parent string // URN, "" for children of the stack
	// Provider is the provider reference, "urn::id", "" for the default.
	Provider     string
	Dependencies []string // URNs
	Protect      bool
	// IgnoreChanges lists the properties Pulumi leaves to their owner after create.
	IgnoreChanges []string
	// Version is the provider plugin version the resource asks for.
	Version string
	Inputs  resource.PropertyMap

	seq int
}

// computedOutputs are the provider-computed attributes the program reads,
// per type. The mock answers each with a readable "[computed …]" placeholder,
// so the render shows where such a value flows (an image URL into an
// overlay, a token into a cluster Secret). An attribute the program reads
// must be listed here: one that is not resolves to its input or to nothing.
var computedOutputs = map[string][]string{
	platform.TypeECRRepository:                            {"repositoryUrl", "registryId", "arn"},
	"github:index/repository:Repository":                  {"sshCloneUrl", "httpCloneUrl", "fullName", "nodeId", "repoId"},
	"tls:index/privateKey:PrivateKey":                     {"privateKeyOpenssh", "publicKeyOpenssh", "privateKeyPem", "publicKeyPem"},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": {"arn"},
	"aws:iam/role:Role":                                   {"arn", "name", "uniqueId"},
	"aws:iam/user:User":                                   {"arn", "uniqueId"},
	"random:index/randomPassword:RandomPassword":          {"result", "bcryptHash"},
	"docker:index/image:Image":                            {"repoDigest", "baseImageName"},
	"aws:iam/accessKey:AccessKey":                         {"secret", "sesSmtpPasswordV4"},
}

// serviceAccountTokenData is what Kubernetes fills into a
// kubernetes.io/service-account-token Secret, base64 as the API returns it.
func serviceAccountTokenData(name string) resource.PropertyValue {
	enc := func(prop string) resource.PropertyValue {
		return resource.NewProperty(base64.StdEncoding.EncodeToString(
			[]byte(ComputedPlaceholder("kubernetes:core/v1:Secret", name, prop))))
	}
	return resource.NewProperty(resource.PropertyMap{"token": enc("data.token"), "ca.crt": enc("data.ca.crt"), "namespace": enc("data.namespace")})
}

// ComputedPlaceholder is the value a computed output shows in the render.
func ComputedPlaceholder(typ, name, property string) string {
	return fmt.Sprintf("[computed %s %s.%s]", typ, name, property)
}

// Recorder answers the program's registrations (see monitor.go): it keeps every registration,
// answers StackReferences from known outputs, and fails any invoke or call:
// the program must not depend on one it has not declared here.
type Recorder struct {
	// StackOutputs answers StackReferences, keyed by the referenced stack's name.
	StackOutputs map[string]resource.PropertyMap
	// Preview answers as a preview of a new stack does: a provider knows
	// only the inputs, so what it computes (and any output made from an
	// unknown input) stays unknown.
	Preview bool

	mu        sync.Mutex
	resources []*Resource
	order     map[string][]int // type::name -> program order, from the stack transformation
	nextSeq   int
}

var _ pulumi.MockResourceMonitor = (*Recorder)(nil)

// transformation sees each registration synchronously, in the order the
// program makes them; the mock's RPCs arrive from goroutines in any order.
func (r *Recorder) transformation(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.order == nil {
		r.order = map[string][]int{}
	}
	key := args.Type + "::" + args.Name
	r.order[key] = append(r.order[key], r.nextSeq)
	r.nextSeq++
	return nil
}

// NewResource records a registration and answers as a create does: the
// inputs come back as outputs, and the ID and computed outputs as
// placeholders that say what they stand for.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs := args.Inputs
	res := &Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Provider: args.Provider, Inputs: inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		res.Parent = rpc.GetParent()
		res.Dependencies = rpc.GetDependencies()
		res.Protect = rpc.GetProtect()
		res.IgnoreChanges = rpc.GetIgnoreChanges()
		res.Version = rpc.GetVersion()
	}
	if rpc := args.ReadRPC; rpc != nil {
		res.Read = true
		res.Parent = rpc.GetParent()
		res.Dependencies = rpc.GetDependencies()
	}
	r.record(res)

	if args.TypeToken == "pulumi:pulumi:StackReference" {
		return r.stackReference(args)
	}
	if !args.Custom && args.ReadRPC == nil {
		return "", resource.PropertyMap{}, nil // a component: its outputs are set in Go
	}
	state := inputs.Copy()
	if r.Preview {
		return previewCreate(args.TypeToken, args.Name, state)
	}
	for _, prop := range computedOutputs[args.TypeToken] {
		if _, ok := state[resource.PropertyKey(prop)]; !ok {
			state[resource.PropertyKey(prop)] = resource.NewProperty(ComputedPlaceholder(args.TypeToken, args.Name, prop))
		}
	}
	if args.TypeToken == "kubernetes:core/v1:Secret" && args.Inputs["type"].IsString() &&
		args.Inputs["type"].StringValue() == "kubernetes.io/service-account-token" {
		state["data"] = serviceAccountTokenData(args.Name)
	}
	return ComputedPlaceholder(args.TypeToken, args.Name, "id"), state, nil
}

// previewCreate answers a create during a preview as the engine does: the
// outputs are the inputs, and a property holding any unknown is unknown as
// a whole (left out, which a dry run reads as unknown). Computed attributes and the ID stay
// unknown; a provider keeps an ID, since resources refer to it.
func previewCreate(typ, name string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	for k, v := range state {
		if v.ContainsUnknowns() {
			delete(state, k)
		}
	}
	if strings.HasPrefix(typ, "pulumi:providers:") {
		return ComputedPlaceholder(typ, name, "id"), state, nil
	}
	return "", state, nil
}

func (r *Recorder) stackReference(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	name := args.Inputs["name"].StringValue()
	outputs, ok := r.StackOutputs[name]
	if !ok {
		return "", nil, fmt.Errorf("stack reference %q: no outputs known for that stack (known: %s)", name, r.knownStacks())
	}
	return name, resource.PropertyMap{
		"name":              resource.NewProperty(name),
		"outputs":           resource.NewProperty(outputs),
		"secretOutputNames": resource.NewProperty([]resource.PropertyValue{}),
	}, nil
}

func (r *Recorder) knownStacks() string {
	var names []string
	for n := range r.StackOutputs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// invokes answers the invokes the program makes, with placeholders.
var invokes = map[string][]string{
	"aws:ecr/getAuthorizationToken:getAuthorizationToken": {"authorizationToken", "expiresAt", "id", "password", "proxyEndpoint", "userName"},
}

// Call answers a declared invoke with a placeholder per result field, and
// fails any other: the render must not make up an answer.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	fields, ok := invokes[args.Token]
	if !ok {
		return nil, fmt.Errorf("unexpected invoke %s: the offline run knows no answer for it", args.Token)
	}
	out := resource.PropertyMap{}
	for _, f := range fields {
		out[resource.PropertyKey(f)] = resource.NewProperty(ComputedPlaceholder(args.Token, "invoke", f))
	}
	return out, nil
}

func (r *Recorder) record(res *Resource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resources = append(r.resources, res)
}

// Resources returns every recorded resource in the order the program
// registered them.
func (r *Recorder) Resources() []*Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := map[string]int{}
	out := make([]*Resource, len(r.resources))
	for i, res := range r.resources {
		key := res.Type + "::" + res.Name
		seqs := r.order[key]
		res.seq = r.nextSeq + i // not seen by the transformation: after the rest, in arrival order
		if n := taken[key]; n < len(seqs) {
			res.seq = seqs[n]
			taken[key] = n + 1
		}
		out[i] = res
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}
