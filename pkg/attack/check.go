package attack

import (
	"bytes"
	"fmt"
)

// Check is an invariant a response must keep. It returns "" when the
// response keeps it, or what was wrong.
type Check func(*Response) string

// CheckSpec describes one check; the fields set must all hold.
type CheckSpec struct {
	Status *int
	// RecordedStatus expects the status class each request was recorded
	// with (traffic lines without one are not checked).
	RecordedStatus bool
	Header         string
	Equals         string
	JSONPath       string
	MinItems       *int
	Contains       string
}

// NeedsBody reports whether the check reads the response body.
func (c CheckSpec) NeedsBody() bool { return c.JSONPath != "" || c.Contains != "" }

// Compile turns a spec into a Check.
func (c CheckSpec) Compile() Check {
	return func(r *Response) string {
		if c.Status != nil && r.Status != *c.Status {
			return fmt.Sprintf("status %d, want %d", r.Status, *c.Status)
		}
		if c.RecordedStatus && r.Recorded != 0 && StatusClass(r.Status) != StatusClass(r.Recorded) {
			return fmt.Sprintf("status %d, recorded %d", r.Status, r.Recorded)
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
			v, err := jsonPath(r.Body, c.JSONPath)
			if err != nil {
				return err.Error()
			}
			if v == nil {
				return fmt.Sprintf("JSON path %s missing", c.JSONPath)
			}
			if c.MinItems != nil {
				n := countItems(v)
				if n < 0 {
					return fmt.Sprintf("JSON path %s is not an array", c.JSONPath)
				}
				if n < *c.MinItems {
					return fmt.Sprintf("JSON path %s holds %d items, want at least %d", c.JSONPath, n, *c.MinItems)
				}
			}
		}
		return ""
	}
}

// StatusClass is the class the check "status: recorded" compares: 2
// for any success (1xx, 2xx and 3xx alike: a 304 recorded for a
// conditional request whose validator a log did not keep is a 200 when
// replayed), 4 for a client error, 5 for a server error.
func StatusClass(status int) int {
	switch {
	case status >= 500:
		return 5
	case status >= 400:
		return 4
	}
	return 2
}
