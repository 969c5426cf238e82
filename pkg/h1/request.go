package h1

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// ErrNotWireSafe means a method, target, host or header field holds bytes
// that an HTTP/1.1 parser could read as the end of a field or of the
// request: the request is refused rather than sent.
var ErrNotWireSafe = errors.New("not safe to send")

// AppendRequest appends to dst an HTTP/1.1 request ready to be written on
// the wire and returns the extended buffer. It is the one serializer of
// requests in bestbefore: everything the generator sends is written here.
//
// An empty method means GET and an empty target "/". The Host header is
// host, or the first value of a Host field in header; header fields are
// written in sorted order, each value on its own line. Host, Content-Length, Trailer and the hop-by-hop fields
// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE,
// Upgrade) are taken from the request itself, not from header: a body is
// always framed by Content-Length, and an empty POST, PUT or PATCH says
// Content-Length: 0, as net/http does.
//
// Nothing is neutralised silently: a method that is not a token, a target
// outside RFC 3986's characters, a header name that is not an RFC 9110
// token or a value holding CR, LF, NUL or another control byte makes it
// return dst unchanged and an error wrapping ErrNotWireSafe. Callers check
// their input with the same functions (CheckMethod, CheckTarget,
// CheckHeaderName, CheckHeaderValue) when it is read, so a run refuses a
// bad file before it sends anything.
func AppendRequest(dst []byte, method, host, target string, header http.Header, body []byte) ([]byte, error) {
	if method == "" {
		method = http.MethodGet
	}
	if target == "" {
		target = "/"
	}
	if err := CheckMethod(method); err != nil {
		return dst, err
	}
	if err := CheckTarget(target); err != nil {
		return dst, err
	}
	if err := CheckHost(host); err != nil {
		return dst, err
	}
	var stack [16]string
	keys := stack[:0]
	for k, vs := range header {
		if err := CheckHeaderName(k); err != nil {
			return dst, err
		}
		if len(vs) > 0 && vs[0] != "" && equalFold([]byte(k), "Host") {
			// A Host field of the request names the virtual host to ask
			// for, as vegeta's and curl's -H 'Host: ...' do; the
			// connection still goes to the target.
			if err := CheckHost(vs[0]); err != nil {
				return dst, err
			}
			host = vs[0]
		}
		for _, v := range vs {
			if err := CheckHeaderValue(v); err != nil {
				return dst, fmt.Errorf("header %s: %w", k, err)
			}
		}
		if !Reserved(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	for _, k := range keys {
		for _, v := range header[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...), nil
}

// reserved are the fields AppendRequest writes itself (Host, from the
// target; Content-Length, from the body) or drops (the connection-level
// ones, which belong to the connection it sends on).
var reserved = [...]string{"Host", "Content-Length", "Connection", "Keep-Alive",
	"Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade"}

// Reserved reports a header field bestbefore writes itself or drops: a
// scenario may not set one, and an importer does not carry one over.
func Reserved(k string) bool {
	for _, s := range reserved {
		if equalFold([]byte(k), s) {
			return true
		}
	}
	return false
}

func checkToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrNotWireSafe, what)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || !tokenChar[c] {
			return fmt.Errorf("%w: %s %q holds %s, not allowed in an RFC 9110 token", ErrNotWireSafe, what, clipText(s), describe(c))
		}
	}
	return nil
}

// CheckMethod refuses a method that is not an RFC 9110 token.
func CheckMethod(m string) error { return checkToken("method", m) }

// CheckHeaderName refuses a header name that is not an RFC 9110 token
// (no space, colon, control byte or separator).
func CheckHeaderName(k string) error { return checkToken("header name", k) }

// CheckHeaderValue refuses a header value holding CR, LF, NUL or any other
// control byte but horizontal tab: the bytes that end a field or that
// parsers disagree on.
func CheckHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: header value holds %s", ErrNotWireSafe, describe(c))
		}
	}
	return nil
}

// CheckTarget refuses a request target that is not an origin-form path
// (starting with /, optionally with a ?query) made of RFC 3986 characters:
// unreserved, sub-delimiters, ":", "@", "/", "?", "[", "]" and
// percent-encodings of two hex digits. A space, a control byte, a raw
// non-ASCII byte, a '#' or a lone '%' is refused: escape it.
func CheckTarget(t string) error {
	if t == "" || t[0] != '/' {
		return fmt.Errorf("%w: request target %q must start with /", ErrNotWireSafe, clipText(t))
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return fmt.Errorf("%w: request target %q has a %% not followed by two hex digits (write %%25 for a literal %%)", ErrNotWireSafe, clipText(t))
			}
			i += 2
		case c == '#':
			return fmt.Errorf("%w: request target %q holds a #fragment, which is never sent: leave it out or escape it as %%23", ErrNotWireSafe, clipText(t))
		case !isURIChar(c):
			return fmt.Errorf("%w: request target %q holds %s: percent-encode it (a space is %%20)", ErrNotWireSafe, clipText(t), describe(c))
		}
	}
	return nil
}

// CheckHost refuses a Host value with bytes outside an RFC 3986 authority
// host and port.
func CheckHost(h string) error {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !isUnreserved(c) && !isSubDelim(c) && c != ':' && c != '[' && c != ']' && c != '%' {
			return fmt.Errorf("%w: host %q holds %s", ErrNotWireSafe, clipText(h), describe(c))
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func isURIChar(c byte) bool {
	return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@' || c == '/' || c == '?' || c == '[' || c == ']'
}

func describe(c byte) string {
	switch c {
	case '\r':
		return "a carriage return (CR)"
	case '\n':
		return "a line feed (LF)"
	case 0:
		return "a NUL byte"
	case ' ':
		return "a space"
	}
	if c < ' ' || c >= 0x7f {
		return fmt.Sprintf("the byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", c)
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// EscapeTarget percent-encodes the bytes CheckTarget refuses (spaces,
// control bytes, non-ASCII, '#', quotes and other characters outside RFC
// 3986, and a '%' not followed by two hex digits) and leaves everything
// else as written, so that a request target taken from a log or a HAR
// file can be sent with the meaning it had.
func EscapeTarget(p string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(p); i++ {
		c := p[i]
		ok := isURIChar(c) || (c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]))
		if ok {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(p)+8), p[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return p
	}
	return string(b)
}
