// Package untyped turns typed documents into the plain maps that Helm
// values and Kubernetes custom resources take.
package untyped

import (
	"encoding/json"
	"fmt"
)

// Map returns v as a map of plain JSON types, through its json tags.
func Map(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("untyped: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("untyped: %w", err)
	}
	return m, nil
}
