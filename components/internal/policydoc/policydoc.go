// Package policydoc builds IAM policy documents from typed values, so no
// policy is a hand-written JSON string.
package policydoc

import (
	"encoding/json"
	"fmt"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a policy document.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// New returns a document of the current policy language version.
func New(statements ...Statement) Document {
	return Document{Version: "2012-10-17", Statement: statements}
}

// Allow is an Allow statement.
func Allow(sid string, actions, resources []string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources}
}

// JSON renders the document.
func (d Document) JSON() (string, error) {
	for i, s := range d.Statement {
		if len(s.Action) == 0 {
			return "", fmt.Errorf("policy statement %d (%s) has no action", i, s.Sid)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
