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
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", raw)
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

// Port is u's port, or its scheme's default (80, 443).
func Port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
