package traffic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret value a Redactor removes. The key stays,
// so the request keeps its shape and replays.
const Redacted = "REDACTED"

// DefaultRedactHeaders are the headers whose values are replaced unless
// redaction is explicitly turned off: they carry credentials, sessions or
// signed tokens. Matched case-insensitively.
var DefaultRedactHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "Api-Key", "X-Auth-Token", "X-Access-Token", "X-Amz-Security-Token",
	"X-Csrf-Token", "X-Xsrf-Token", "X-Session-Token", "X-Goog-Api-Key",
}

// DefaultRedactFields are the names whose values are replaced wherever
// they appear: query parameters, JSON body fields at any depth and
// form-encoded body fields. Matched case-insensitively.
var DefaultRedactFields = []string{
	"password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
	"refresh_token", "id_token", "auth_token", "session_token", "api_key", "apikey",
	"private_key", "x-amz-security-token", "x-amz-signature", "x-amz-credential", "signature", "sig",
}

// Redactor removes secrets from requests before they are written: the
// values of the named headers, and the values of the named fields in the
// query string, in JSON bodies (at any depth) and in form bodies.
type Redactor struct {
	headers map[string]bool // canonical header keys
	fields  map[string]bool // lower-case field names
}

// NewRedactor returns a redactor for DefaultRedactHeaders and
// DefaultRedactFields plus the given headers and fields, less those in
// keep (a header or field name the user says is not a secret). All names
// match in any case.
func NewRedactor(headers, fields, keep []string) *Redactor {
	r := &Redactor{headers: map[string]bool{}, fields: map[string]bool{}}
	for _, h := range append(slices.Clone(DefaultRedactHeaders), headers...) {
		r.headers[http.CanonicalHeaderKey(strings.TrimSpace(h))] = true
	}
	for _, f := range append(slices.Clone(DefaultRedactFields), fields...) {
		r.fields[strings.ToLower(strings.TrimSpace(f))] = true
	}
	for _, k := range keep {
		delete(r.headers, http.CanonicalHeaderKey(strings.TrimSpace(k)))
		delete(r.fields, strings.ToLower(strings.TrimSpace(k)))
	}
	return r
}

// RedactStats says what one Apply call changed.
type RedactStats struct {
	Headers int // header values replaced
	Query   int // query parameter values replaced
	Fields  int // body field values replaced (JSON or form)
	// BodyWithheld is set when fields are to be redacted, the body could
	// not be parsed (for instance because it was truncated) and it
	// mentions one of the field names: the body is then dropped whole.
	BodyWithheld bool
}

// Changed reports whether anything was redacted.
func (s RedactStats) Changed() bool {
	return s.Headers+s.Query+s.Fields > 0 || s.BodyWithheld
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
	if path, q, ok := strings.Cut(req.Path, "?"); ok {
		if out, n := r.redactForm(q); n > 0 {
			req.Path = path + "?" + out
			st.Query = n
		}
	}
	body := req.BodyBytes()
	if len(body) == 0 {
		return st
	}
	var out []byte
	var n int
	ok := true
	if isForm(req.Header) {
		var s string
		s, n = r.redactForm(string(body))
		out = []byte(s)
	} else {
		out, n, ok = r.redactJSON(body)
	}
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

// isForm reports a form-encoded body by its Content-Type.
func isForm(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// redactForm replaces the values of the fields in a query string or form
// body (k=v&k2=v2), keeping every other byte, the order and the encoding
// as they were.
func (r *Redactor) redactForm(q string) (string, int) {
	n := 0
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if r.fields[strings.ToLower(name)] {
			parts[i] = k + "=" + Redacted
			n++
		}
	}
	if n == 0 {
		return q, 0
	}
	return strings.Join(parts, "&"), n
}

// mentionsField reports whether body names a field, in any case: an
// unparseable body that might carry a secret is not kept.
func (r *Redactor) mentionsField(body []byte) bool {
	lower := bytes.ToLower(body)
	for f := range r.fields {
		q, _ := json.Marshal(f)
		if bytes.Contains(lower, q) || bytes.Contains(lower, []byte(f+"=")) {
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
			if r.fields[strings.ToLower(k)] {
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
