package offline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gitops-platform/gitops-platform/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

// SecretPlaceholder stands in for a `secure:` value, which only the stack's
// secrets provider can decrypt.
const SecretPlaceholder = "[secret]"

// Project is the part of Pulumi.yaml the offline run needs.
type Project struct {
	Name   string                   `yaml:"name"`
	Config map[string]ProjectConfig `yaml:"config"`
}

// ProjectConfig declares one config key in Pulumi.yaml.
type ProjectConfig struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Default     any    `yaml:"default"`
}

// LoadProject reads dir/Pulumi.yaml.
func LoadProject(dir string) (*Project, error) {
	b, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	var p Project
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("Pulumi.yaml: %w", err)
	}
	if p.Name == "" {
		return nil, errors.New("Pulumi.yaml: no project name")
	}
	return &p, nil
}

// misplacedKeys refuses a project key written at the top of a stack file
// instead of under config:, where Pulumi reads it; Pulumi itself would
// leave it unread, and its default in force.
func misplacedKeys(b []byte, project, file string) error {
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var misplaced []string
	for k := range top {
		if strings.HasPrefix(k, project+":") {
			misplaced = append(misplaced, k)
		}
	}
	if len(misplaced) == 0 {
		return nil
	}
	sort.Strings(misplaced)
	return fmt.Errorf("%s: %s: misplaced outside config:, where Pulumi never reads it; indent it under config:",
		file, strings.Join(misplaced, ", "))
}

// LoadStack reads dir/Pulumi.<name>.yaml and applies Pulumi.yaml's defaults,
// as the Pulumi CLI does before it starts the program.
func LoadStack(dir, name string) (Stack, error) {
	proj, err := LoadProject(dir)
	if err != nil {
		return Stack{}, err
	}
	file := filepath.Join(dir, "Pulumi."+name+".yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		return Stack{}, fmt.Errorf("stack %s: %w", name, err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Stack{}, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	if err := misplacedKeys(b, proj.Name, filepath.Base(file)); err != nil {
		return Stack{}, err
	}
	st := Stack{Project: proj.Name, Name: name, Config: map[string]string{}}
	for key, v := range doc.Config {
		if !strings.Contains(key, ":") {
			key = proj.Name + ":" + key
		}
		s, secret, err := configString(v)
		if err != nil {
			return Stack{}, fmt.Errorf("%s: %s: %w", filepath.Base(file), key, err)
		}
		st.Config[key] = s
		if secret {
			st.Secrets = append(st.Secrets, key)
		}
	}
	for key, decl := range proj.Config {
		full := key
		if !strings.Contains(key, ":") {
			full = proj.Name + ":" + key
		}
		if _, set := st.Config[full]; set || decl.Default == nil {
			continue
		}
		s, _, err := configString(decl.Default)
		if err != nil {
			return Stack{}, fmt.Errorf("Pulumi.yaml: default of %s: %w", key, err)
		}
		st.Config[full] = s
	}
	sort.Strings(st.Secrets)
	return st, nil
}

// configString turns a YAML config value into the string Pulumi passes the
// program: scalars as text, objects and lists as JSON, `secure:` as a secret.
func configString(v any) (string, bool, error) {
	switch t := v.(type) {
	case string:
		return t, false, nil
	case bool:
		return strconv.FormatBool(t), false, nil
	case int:
		return strconv.Itoa(t), false, nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), false, nil
	case nil:
		return "", false, nil
	case map[string]any:
		if _, ok := t["secure"]; ok && len(t) == 1 {
			return SecretPlaceholder, true, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, err
	}
	return string(b), false, nil
}

// Raw turns a stack's config into what infra.Parse reads.
func (s Stack) Raw() infra.Raw {
	raw := infra.Raw{Values: map[string]string{}, Secret: map[string]bool{}}
	for k, v := range s.Config {
		raw.Values[k] = v
	}
	for _, k := range s.Secrets {
		raw.Secret[k] = true
	}
	return raw
}

// Evaluate runs the program for stack name of the project in dir. A stack
// that joins a hub first has the hub's stack evaluated too, and its
// StackReference answered with the hub's outputs, without the secret ones
// (ElideSecrets). A kubeconfig path, when
// given, is read as `pulumi up` reads it; otherwise nothing local is read.
func Evaluate(dir, name, kubeconfig string) (*Result, error) {
	return evaluate(dir, name, kubeconfig, false, 0)
}

// EvaluatePreview is Evaluate as `pulumi preview` of a new stack: a dry run
// where what providers compute is unknown. A non-hub stack's hub is
// evaluated as already up, as a preview reads the hub's real outputs.
func EvaluatePreview(dir, name, kubeconfig string) (*Result, error) {
	return evaluate(dir, name, kubeconfig, true, 0)
}

func evaluate(dir, name, kubeconfig string, preview bool, depth int) (*Result, error) {
	st, err := LoadStack(dir, name)
	if err != nil {
		return nil, err
	}
	st.Kubeconfig = kubeconfig
	st.Preview = preview
	cfg, err := infra.Parse(st.Raw())
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	refs := map[string]resource.PropertyMap{}
	if !cfg.Hub {
		if depth > 0 {
			return nil, fmt.Errorf("stack %s is named as a hub but is not one (hub: false)", name)
		}
		hubName := cfg.HubStack[strings.LastIndex(cfg.HubStack, "/")+1:]
		hub, err := evaluate(dir, hubName, kubeconfig, false, depth+1)
		if err != nil {
			return nil, fmt.Errorf("hub of %s: %w", name, err)
		}
		refs[cfg.HubStack] = ElideSecrets(hub.Outputs)
	}
	return Run(st, refs)
}

// ElideSecrets is what a stack reads of another stack's outputs when each
// stack has a passphrase of its own, as this project's stacks do: the
// Pulumi CLI (3.274.1, pkg/resource/deploy/builtins.go, readStackReference)
// cannot decrypt the other stack's secrets and leaves those outputs out.
func ElideSecrets(outputs resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range outputs {
		if !v.ContainsSecrets() {
			out[k] = v
		}
	}
	return out
}
