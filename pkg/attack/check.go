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
			var doc any
			if err := json.Unmarshal(r.Body, &doc); err != nil {
				return "body is not JSON: " + err.Error()
			}
			v, ok := lookup(doc, c.JSONPath)
			if !ok {
				return fmt.Sprintf("JSON path %s missing", c.JSONPath)
			}
			if c.MinItems != nil {
				arr, isArr := v.([]any)
				if !isArr {
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

// lookup follows a dotted path ("predictions.0.id") through decoded JSON.
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
