package offline

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The program talks to the Recorder through a resource monitor and an
// engine served in this process on a Unix socket, as it talks to the Pulumi
// engine under `pulumi up`. The SDK's own mock monitor cannot carry a value
// that is both secret and unknown (it unmarshals the program's requests
// without unknowns and refuses the secret), which a preview holds
// (a cluster Secret's token before it exists). This one keeps unknowns
// both ways; otherwise it answers as the SDK's mock does.

// monitor is a pulumirpc.ResourceMonitorServer over a Recorder.
type monitor struct {
	pulumirpc.UnimplementedResourceMonitorServer
	rec            *Recorder
	project, stack string
}

// wire keeps unknowns and secrets, as the engine's wire format does.
var wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func (m *monitor) newURN(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

func (m *monitor) GetDeploymentInfo(context.Context, *emptypb.Empty) (*pulumirpc.DeploymentInfo, error) {
	return &pulumirpc.DeploymentInfo{Project: m.project, Stack: m.stack, SupportedFeatures: []pulumirpc.ResourceMonitorFeature{
		pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_SECRETS,
		pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
		pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
		pulumirpc.ResourceMonitorFeature_RESOURCE_MONITOR_FEATURE_DELETED_WITH,
	}}, nil
}

func (m *monitor) SupportsFeature(_ context.Context, in *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	switch in.GetId() {
	case "secrets", "resourceReferences", "aliasSpecs", "deletedWith":
		return &pulumirpc.SupportsFeatureResponse{HasSupport: true}, nil
	}
	// Output values, transforms through the engine and the rest: the SDK
	// then does without them, as it does with an older engine.
	return &pulumirpc.SupportsFeatureResponse{HasSupport: false}, nil
}

func (m *monitor) RegisterResource(_ context.Context, in *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	if in.GetType() == string(resource.RootStackType) && in.GetParent() == "" {
		return &pulumirpc.RegisterResourceResponse{Urn: m.newURN("", in.GetType(), in.GetName())}, nil
	}
	inputs, err := plugin.UnmarshalProperties(in.GetObject(), wire)
	if err != nil {
		return nil, fmt.Errorf("%s %s: inputs: %w", in.GetType(), in.GetName(), err)
	}
	id, state, err := m.rec.NewResource(pulumi.MockResourceArgs{
		TypeToken: in.GetType(), Name: in.GetName(), Inputs: inputs, Provider: in.GetProvider(),
		ID: in.GetImportId(), Custom: in.GetCustom(), RegisterRPC: in,
	})
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(state, wire)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.RegisterResourceResponse{Urn: m.newURN(in.GetParent(), in.GetType(), in.GetName()), Id: id, Object: out}, nil
}

func (m *monitor) ReadResource(_ context.Context, in *pulumirpc.ReadResourceRequest) (*pulumirpc.ReadResourceResponse, error) {
	inputs, err := plugin.UnmarshalProperties(in.GetProperties(), wire)
	if err != nil {
		return nil, err
	}
	_, state, err := m.rec.NewResource(pulumi.MockResourceArgs{
		TypeToken: in.GetType(), Name: in.GetName(), Inputs: inputs, Provider: in.GetProvider(), ID: in.GetId(), ReadRPC: in,
	})
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(state, wire)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResourceResponse{Urn: m.newURN(in.GetParent(), in.GetType(), in.GetName()), Properties: out}, nil
}

func (m *monitor) Invoke(_ context.Context, in *pulumirpc.ResourceInvokeRequest) (*pulumirpc.ResourceInvokeResponse, error) {
	args, err := plugin.UnmarshalProperties(in.GetArgs(), wire)
	if err != nil {
		return nil, err
	}
	result, err := m.rec.Call(pulumi.MockCallArgs{Token: in.GetTok(), Args: args, Provider: in.GetProvider()})
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(result, wire)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ResourceInvokeResponse{Return: out}, nil
}

func (m *monitor) RegisterResourceOutputs(context.Context, *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *monitor) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// engine is the pulumirpc.EngineServer: it keeps the root resource; the
// program's log goes to Context.Log, which the offline run replaces.
type engine struct {
	pulumirpc.UnimplementedEngineServer
	mu   sync.Mutex
	root string
}

func (e *engine) Log(context.Context, *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (e *engine) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: e.root}, nil
}

func (e *engine) SetRootResource(_ context.Context, in *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.root = in.GetUrn()
	return &pulumirpc.SetRootResourceResponse{}, nil
}

// serve starts the monitor and the engine on a Unix socket in a temporary
// directory; the address is for pulumi.RunInfo's MonitorAddr and
// EngineAddr. stop ends the server and removes the directory.
func serve(rec *Recorder, project, stack string) (addr string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "gitops-platform-offline-")
	if err != nil {
		return "", nil, fmt.Errorf("offline monitor: %w", err)
	}
	sock := filepath.Join(dir, "monitor.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("offline monitor: %w", err)
	}
	srv := grpc.NewServer()
	pulumirpc.RegisterResourceMonitorServer(srv, &monitor{rec: rec, project: project, stack: stack})
	pulumirpc.RegisterEngineServer(srv, &engine{})
	go func() { _ = srv.Serve(lis) }()
	return "unix://" + sock, func() {
		srv.Stop()
		os.RemoveAll(dir)
	}, nil
}
