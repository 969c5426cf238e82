package attack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Check is an invariant a response must keep. It returns "" when the
// response keeps it, or what was wrong.
type Check func(*Response) string

// CheckSpec describes one check; the fields set must all hold.
type CheckSpec struct {
	Status   *int
	Header   string
	Equals   string
	JSONPath string
	MinItems *int
	Contains string
}

// NeedsBody reports whether the check reads the response body.
func (c CheckSpec) NeedsBody() bool { return c.JSONPath != "" || c.Contains != "" }

// Compile turns a spec into a Check.
func (c CheckSpec) Compile() Check {
	return func(r *Response) string {
		if c.Status != nil && r.Status != *c.Status {
			return fmt.Sprintf("status %d, want %d", r.Status, *c.Status)
		}
		if c.Header != "" {
			v, ok := "", false
			if r.Header != nil {
				v, ok = r.Header(c.Header)
			}
			if !ok {
				return fmt.Sprintf("header %s missing", c.Header)
			}
			if c.Equals != "" && v != c.Equals {
				return fmt.Sprintf("header %s is %q, want %q", c.Header, v, c.Equals)
			}
		}
		if c.Contains != "" && !bytes.Contains(r.Body, []byte(c.Contains)) {
			return fmt.Sprintf("body does not contain %q", c.Contains)
		}
		if c.JSONPath != "" {
			v, err := lookupRaw(r.Body, c.JSONPath)
			if err != nil {
				return err.Error()
			}
			if v == nil {
				return fmt.Sprintf("JSON path %s missing", c.JSONPath)
			}
			if c.MinItems != nil {
				var arr []json.RawMessage
				if err := json.Unmarshal(v, &arr); err != nil {
					return fmt.Sprintf("JSON path %s is not an array", c.JSONPath)
				}
				if len(arr) < *c.MinItems {
					return fmt.Sprintf("JSON path %s holds %d items, want at least %d", c.JSONPath, len(arr), *c.MinItems)
				}
			}
		}
		return ""
	}
}

// lookupRaw follows a dotted path ("predictions.0.id") through a JSON
// document, decoding only the objects and arrays on the way: a check on a
// large response costs a scan, not a tree of maps. It returns nil when the
// path does not exist.
func lookupRaw(doc []byte, path string) (json.RawMessage, error) {
	cur := json.RawMessage(bytes.TrimSpace(doc))
	if !json.Valid(cur) {
		return nil, fmt.Errorf("body is not JSON")
	}
	for _, part := range strings.Split(path, ".") {
		switch {
		case len(cur) > 0 && cur[0] == '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(cur, &m); err != nil {
				return nil, fmt.Errorf("body is not JSON: %v", err)
			}
			next, ok := m[part]
			if !ok {
				return nil, nil
			}
			cur = next
		case len(cur) > 0 && cur[0] == '[':
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 {
				return nil, nil
			}
			var arr []json.RawMessage
			if err := json.Unmarshal(cur, &arr); err != nil {
				return nil, fmt.Errorf("body is not JSON: %v", err)
			}
			if i >= len(arr) {
				return nil, nil
			}
			cur = arr[i]
		default:
			return nil, nil
		}
	}
	return cur, nil
}
