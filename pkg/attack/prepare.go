package attack

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/h1"
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
	// Status is the status the request was recorded with, 0 when unknown.
	Status int
	// Group is the request's endpoint group (Groups.Of), 0 without groups.
	Group uint16
	// Call is what a Preparer's Doer keeps beside Raw (a gRPC call's
	// method and metadata); nil for HTTP.
	Call any
}

// Prepare serializes req for the target at base with h1.AppendRequest,
// the one request serializer. extra headers are added to every request
// (they do not replace the request's own). The base path is kept as it
// was escaped in the URL: a %0d%0a in it stays three bytes each, never a
// line break. A request that is not safe to send is an error naming its
// traffic line; the traffic reader and the scenario refuse such input
// before a run starts, so here it means a caller skipped that check.
func Prepare(req *traffic.Request, base *url.URL, extra http.Header) (*Prepared, error) {
	path := req.Path
	if p := strings.TrimSuffix(base.EscapedPath(), "/"); p != "" {
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
	raw, err := h1.AppendRequest(make([]byte, 0, 256+len(path)+len(body)), method, base.Host, path, header, body)
	if err != nil {
		return nil, fmt.Errorf("traffic line %d for %s: %w", req.Line, base.Redacted(), err)
	}
	// A file's worth of prepared requests may stay in memory: keep the
	// bytes at their exact size and nothing else.
	return &Prepared{Raw: append(make([]byte, 0, len(raw)), raw...), Method: method, Line: req.Line, Status: req.Status}, nil
}

// ParseTargets parses base URLs.
func ParseTargets(urls []string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(urls))
	for _, s := range urls {
		u, err := h1.ParseBase(s)
		if err != nil {
			return nil, fmt.Errorf("target %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}
