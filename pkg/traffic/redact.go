package traffic

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
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
	out, n, ok := r.redactEncoded(body, req.Header)
	switch {
	case ok && n > 0:
		req.SetBody(out)
		st.Fields = n
	case !ok && (encoded(req.Header) || r.mentionsField(body)):
		req.SetBody(nil)
		req.Truncated = true
		st.BodyWithheld = true
	}
	return st
}

// redactEncoded redacts a body as its Content-Encoding sent it: a gzip
// or deflate body is decoded, redacted and encoded again (so that replay
// sends what was recorded, less the secrets); a body in an encoding that
// cannot be read here (br, zstd) is not ok, and withheld if it might hold
// a field. A secret is never stored because it was compressed.
func (r *Redactor) redactEncoded(body []byte, h http.Header) (out []byte, n int, ok bool) {
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return r.redactPlain(body, h)
	case "gzip", "x-gzip", "deflate":
	default:
		return nil, 0, false
	}
	plain, err := decodeBody(body, enc)
	if err != nil {
		return nil, 0, false
	}
	red, n, ok := r.redactPlain(plain, h)
	if !ok || n == 0 {
		return body, 0, ok
	}
	packed, err := encodeBody(red, enc)
	if err != nil {
		return nil, 0, false
	}
	return packed, n, true
}

// encoded says the body travels compressed (any Content-Encoding but
// identity): when it could not be read, nothing says it holds no secret.
func encoded(h http.Header) bool {
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	return enc != "" && enc != "identity"
}

// maxDecoded bounds what a compressed body may expand to before it is
// redacted: past it the body is withheld (a zip bomb is not a request).
const maxDecoded = 64 << 20

func decodeBody(b []byte, enc string) ([]byte, error) {
	var rd io.ReadCloser
	var err error
	if enc == "deflate" {
		rd, err = zlib.NewReader(bytes.NewReader(b))
	} else {
		rd, err = gzip.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	out, err := io.ReadAll(io.LimitReader(rd, maxDecoded+1))
	if err == nil && len(out) > maxDecoded {
		err = errors.New("decoded body past the bound")
	}
	return out, err
}

func encodeBody(b []byte, enc string) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	if enc == "deflate" {
		w = zlib.NewWriter(&buf)
	} else {
		w = gzip.NewWriter(&buf)
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// redactPlain redacts an uncompressed form or JSON body.
func (r *Redactor) redactPlain(body []byte, h http.Header) (out []byte, n int, ok bool) {
	if isForm(h) {
		s, n := r.redactForm(string(body))
		return []byte(s), n, true
	}
	return r.redactJSON(body)
}

// secret says a field name is one to redact: the name itself, or any
// part of a bracketed name as Rails, PHP and qs write nested forms
// (user[password], a[b][api_key], password[]).
func (r *Redactor) secret(name string) bool {
	name = strings.ToLower(name)
	if r.fields[name] {
		return true
	}
	if !strings.ContainsAny(name, "[]") {
		return false
	}
	for _, part := range strings.FieldsFunc(name, func(c rune) bool { return c == '[' || c == ']' }) {
		if r.fields[strings.TrimSpace(part)] {
			return true
		}
	}
	return false
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
		if r.secret(name) {
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
		if bytes.Contains(lower, q) || bytes.Contains(lower, []byte(f+"=")) || bytes.Contains(lower, []byte(f+"]")) || bytes.Contains(lower, []byte(f+"%5d")) {
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
