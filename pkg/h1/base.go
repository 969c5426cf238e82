package h1

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Reason is a wire check's message without its ErrNotWireSafe prefix,
// for a message that names the field itself.
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrNotWireSafe.Error()+": ")
}

// ParseBase reads a target's base URL: http or https, a host, a port in
// range, an optional path prefix that is safe on the wire, and nothing a
// request's own line should carry (user information, a query, a
// fragment). Every place that takes a target URL (scenario validation,
// the pre-flight dial, the attacker) reads it here; the error says what
// is wrong in the user's terms.
func ParseBase(raw string) (*url.URL, error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < ' ' || c == 0x7f {
			return nil, fmt.Errorf("%q holds a control character (0x%02x): a URL cannot hold CR, LF, NUL or another control byte", raw, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme == "grpc" || u.Scheme == "grpcs":
		return parseGRPC(raw, u)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an http://, https://, grpc:// or grpcs:// URL", raw)
	case u.Hostname() == "":
		return nil, fmt.Errorf("%q names no host: write e.g. http://127.0.0.1:8080", raw)
	case u.User != nil:
		return nil, fmt.Errorf("%q holds user information: put credentials in target.headers (Authorization)", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q holds a query or fragment: the traffic file gives each request its own", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %s is not in 1-65535", raw, p)
		}
	}
	if p := u.EscapedPath(); p != "" {
		if err := CheckTarget(p); err != nil {
			return nil, fmt.Errorf("%q: path: %s", raw, Reason(err))
		}
	}
	return u, nil
}

// parseGRPC checks a grpc:// or grpcs:// target: a host and a port,
// nothing else (a call's path is its method, from the traffic).
func parseGRPC(raw string, u *url.URL) (*url.URL, error) {
	switch {
	case u.Hostname() == "":
		return nil, fmt.Errorf("%q names no host: write e.g. %s://127.0.0.1:50051", raw, u.Scheme)
	case u.User != nil:
		return nil, fmt.Errorf("%q holds user information: put credentials in target.headers (they are sent as metadata)", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%q holds a query or fragment: a gRPC target is a host and a port", raw)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("%q holds a path: a gRPC call's path is its method, named by each traffic line (/package.Service/Method)", raw)
	case u.Port() == "" && u.Scheme == "grpc":
		return nil, fmt.Errorf("%q names no port: gRPC has no default port (write e.g. grpc://127.0.0.1:50051)", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %s is not in 1-65535", raw, p)
		}
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// IsGRPC says whether u is a gRPC target (grpc:// or grpcs://).
func IsGRPC(u *url.URL) bool { return u.Scheme == "grpc" || u.Scheme == "grpcs" }

// Port is u's port, or its scheme's default (80, 443).
func Port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" || u.Scheme == "grpcs" {
		return "443"
	}
	return "80"
}
