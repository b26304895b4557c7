package tools

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionsAreTheWrappersPins reads each tool's wrapper go.mod: the
// module its package comes from is required there at the tool's Version,
// so the cached binary's name says what was built.
func TestVersionsAreTheWrappersPins(t *testing.T) {
	requirement := regexp.MustCompile(`(?m)^\s*(?:require\s+)?(\S+) (v\S+)(?:\s|$)`)
	for _, tool := range All {
		b, err := os.ReadFile(filepath.Join(dir(), tool.Module, "go.mod"))
		require.NoError(t, err, tool.Name)
		module, version := "", ""
		for _, m := range requirement.FindAllStringSubmatch(string(b), -1) {
			if (tool.Package == m[1] || strings.HasPrefix(tool.Package, m[1]+"/")) && len(m[1]) > len(module) {
				module, version = m[1], m[2]
			}
		}
		assert.NotEmpty(t, module, "%s: no requirement of %s's module", tool.Name, tool.Package)
		assert.Equal(t, tool.Version, version, "%s: %s is pinned at another version", tool.Name, module)
	}
}
