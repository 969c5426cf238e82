package traffic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret value a Redactor removes.
const Redacted = "REDACTED"

// DefaultRedactHeaders are the headers whose values are replaced unless
// redaction is explicitly turned off: they carry credentials or sessions.
var DefaultRedactHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key"}

// Redactor removes secrets from requests before they are written: the
// values of the named headers, and the values of the named JSON body
// fields at any depth.
type Redactor struct {
	headers map[string]bool
	fields  map[string]bool
}

// NewRedactor returns a redactor for the DefaultRedactHeaders plus the
// given headers (any case) and JSON body fields (exact names).
func NewRedactor(headers, fields []string) *Redactor {
	r := &Redactor{headers: map[string]bool{}, fields: map[string]bool{}}
	for _, h := range DefaultRedactHeaders {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range headers {
		r.headers[http.CanonicalHeaderKey(strings.TrimSpace(h))] = true
	}
	for _, f := range fields {
		r.fields[f] = true
	}
	return r
}

// RedactStats says what one Apply call changed.
type RedactStats struct {
	Headers int // header values replaced
	Fields  int // JSON field values replaced
	// BodyWithheld is set when fields are to be redacted, the body could
	// not be parsed as JSON (for instance because it was truncated) and it
	// mentions one of the field names: the body is then dropped whole.
	BodyWithheld bool
}

// Apply redacts req in place. A nil Redactor does nothing.
func (r *Redactor) Apply(req *Request) RedactStats {
	var st RedactStats
	if r == nil {
		return st
	}
	for k, vs := range req.Header {
		if r.headers[http.CanonicalHeaderKey(k)] {
			for i := range vs {
				vs[i] = Redacted
				st.Headers++
			}
		}
	}
	if len(r.fields) == 0 {
		return st
	}
	body := req.BodyBytes()
	if len(body) == 0 {
		return st
	}
	out, n, ok := r.redactJSON(body)
	switch {
	case ok && n > 0:
		req.SetBody(out)
		st.Fields = n
	case !ok && r.mentionsField(body):
		req.SetBody(nil)
		req.Truncated = true
		st.BodyWithheld = true
	}
	return st
}

// mentionsField reports whether body holds a quoted field name: an
// unparseable body that might carry a secret is not kept.
func (r *Redactor) mentionsField(body []byte) bool {
	for f := range r.fields {
		q, _ := json.Marshal(f)
		if bytes.Contains(body, q) {
			return true
		}
	}
	return false
}

// redactJSON replaces the values of the fields in a JSON document. ok is
// false when body is not a single JSON value.
func (r *Redactor) redactJSON(body []byte) (out []byte, n int, ok bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return nil, 0, !r.mentionsField(body) // not JSON: only suspicious if it names a field
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, 0, false
	}
	if dec.More() {
		return nil, 0, false
	}
	n = r.walk(v)
	if n == 0 {
		return body, 0, true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, 0, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), n, true
}

func (r *Redactor) walk(v any) int {
	n := 0
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			if r.fields[k] {
				t[k] = Redacted
				n++
				continue
			}
			n += r.walk(c)
		}
	case []any:
		for _, c := range t {
			n += r.walk(c)
		}
	}
	return n
}

// SetBody stores b as the body: as text when it is valid UTF-8 that JSON
// keeps byte for byte, as body_base64 otherwise.
func (r *Request) SetBody(b []byte) {
	r.Body, r.BodyBase64, r.body = "", "", nil
	if len(b) == 0 {
		return
	}
	if textSafe(b) {
		r.Body = string(b)
	} else {
		r.BodyBase64 = base64Encode(b)
	}
	r.body = b
}

// textSafe reports whether b survives a JSON string unchanged.
func textSafe(b []byte) bool { return utf8.Valid(b) }

func base64Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
