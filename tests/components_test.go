package tests

import (
	"encoding/json"
	"testing"

	"github.com/gitops-platform/gitops-platform/components/registry"
	"github.com/gitops-platform/gitops-platform/internal/offline"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func componentStack() offline.Stack {
	return offline.Stack{Project: "gitops-platform", Name: "unit", Config: map[string]string{}}
}

// TestInvalidConfigRegistersNothing checks that validation runs before the
// program registers any resource.
func TestInvalidConfigRegistersNothing(t *testing.T) {
	t.Parallel()
	res, err := evaluateWith(t, "dev", map[string]string{"replicas": "0", "awsRegion": "moon"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gitops-platform:replicas")
	assert.Contains(t, err.Error(), "gitops-platform:awsRegion")
	require.NotNil(t, res)
	assert.Empty(t, res.Resources)
}

// TestRegistryComponent checks the registry's outputs and its lifecycle
// policy: untagged images expire first, then all but the newest N sha- images.
func TestRegistryComponent(t *testing.T) {
	t.Parallel()
	var reg *registry.Registry
	res, err := offline.RunProgram(componentStack(), nil, func(ctx *pulumi.Context) error {
		var err error
		reg, err = registry.New(ctx, "images", &registry.Args{Name: "app", KeepImages: 5})
		return err
	})
	require.NoError(t, err)

	url := await(t, reg.RepositoryURL)
	assert.True(t, url.Known)
	assert.False(t, url.Secret)
	assert.Equal(t, offline.ComputedPlaceholder(typeECR, "images", "repositoryUrl"), url.Value)

	ecr := one(t, res, typeECR)
	assert.False(t, ecr.Inputs["forceDelete"].BoolValue(), "forceDelete is off unless asked for")
	var policy struct {
		Rules []struct {
			RulePriority int `json:"rulePriority"`
			Selection    struct {
				TagStatus     string   `json:"tagStatus"`
				TagPrefixList []string `json:"tagPrefixList"`
				CountType     string   `json:"countType"`
				CountNumber   int      `json:"countNumber"`
			} `json:"selection"`
			Action struct {
				Type string `json:"type"`
			} `json:"action"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(one(t, res, typeLifecycle).Inputs["policy"].StringValue()), &policy))
	require.Len(t, policy.Rules, 2)
	assert.Equal(t, 1, policy.Rules[0].RulePriority)
	assert.Equal(t, "untagged", policy.Rules[0].Selection.TagStatus)
	assert.Equal(t, 2, policy.Rules[1].RulePriority)
	assert.Equal(t, []string{"sha-"}, policy.Rules[1].Selection.TagPrefixList)
	assert.Equal(t, "imageCountMoreThan", policy.Rules[1].Selection.CountType)
	assert.Equal(t, 5, policy.Rules[1].Selection.CountNumber)
	for _, r := range policy.Rules {
		assert.Equal(t, "expire", r.Action.Type)
	}
}

// TestRegistryRejectsBadArgs checks that bad arguments stop the component
// before it registers anything.
func TestRegistryRejectsBadArgs(t *testing.T) {
	t.Parallel()
	for name, args := range map[string]*registry.Args{
		"keep none": {Name: "app", KeepImages: 0},
		"keep 1001": {Name: "app", KeepImages: 1001},
		"no name":   {KeepImages: 3},
		"no args":   nil,
	} {
		res, err := offline.RunProgram(componentStack(), nil, func(ctx *pulumi.Context) error {
			_, err := registry.New(ctx, "images", args)
			return err
		})
		require.Error(t, err, name)
		assert.Empty(t, res.Resources, name)
	}
}
