package attack

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Target is one base URL requests are sent to.
type Target struct {
	// Base is the scheme, host and optional path prefix, e.g. http://127.0.0.1:8080.
	Base *url.URL
	// Doer sends requests to it.
	Doer Doer
}

// Prepared is a request ready to be sent to one target: its raw HTTP/1.1
// bytes, serialized once, written as they are by the client.
type Prepared struct {
	Raw    []byte
	Method string
	Line   int
}

// Prepare serializes req for the target at base. extra headers are added
// to every request (they do not replace the request's own).
func Prepare(req *traffic.Request, base *url.URL, extra http.Header) *Prepared {
	path := req.Path
	if p := strings.TrimSuffix(base.Path, "/"); p != "" {
		path = p + path
	}
	body := req.BodyBytes()
	header := req.Header
	if len(extra) > 0 {
		header = make(http.Header, len(req.Header)+len(extra))
		for k, v := range req.Header {
			header[k] = v
		}
		for k, v := range extra {
			if _, ok := header[k]; !ok {
				header[k] = v
			}
		}
	}
	method := req.MethodOrGet()
	raw := AppendRequest(make([]byte, 0, 256+len(path)+len(body)), method, base.Host, path, header, body)
	// A file's worth of prepared requests may stay in memory: keep the
	// bytes at their exact size and nothing else.
	return &Prepared{Raw: append(make([]byte, 0, len(raw)), raw...), Method: method, Line: req.Line}
}

// AppendRequest serializes an HTTP/1.1 request. Headers are written in
// sorted order so the bytes are reproducible; Host and Content-Length are
// set by the tool, and hop-by-hop headers of the recording are left out.
func AppendRequest(dst []byte, method, host, path string, header http.Header, body []byte) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	keys := make([]string, 0, len(header))
	for k := range header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive", "Proxy-Connection", "Te", "Upgrade", "Trailer":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	if len(body) > 0 || (method != "GET" && method != "HEAD" && method != "DELETE" && method != "OPTIONS") {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, body...)
	return dst
}

// ParseTargets parses base URLs.
func ParseTargets(urls []string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(urls))
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", s, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("target %q: want http://host:port or https://host:port", s)
		}
		out = append(out, u)
	}
	return out, nil
}
