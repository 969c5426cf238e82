package traffic

import (
	"sort"
	"strings"
)

// MaxEndpoints is how many endpoint groups a run reports by name; the
// requests of every other endpoint are reported together as OtherEndpoint.
const MaxEndpoints = 12

// OtherEndpoint names the group of the requests whose endpoint is not
// among the most frequent MaxEndpoints.
const OtherEndpoint = "other"

// Endpoint names the endpoint a request calls: its method and path
// template. Path segments that identify a record rather than a route are
// folded to {id}: numbers, UUIDs, hex strings of 8 digits or more, and
// segments mixing letters and digits that look like keys (24 characters
// or more). Query values are folded to {} and the query's names sorted,
// so /v1/items/42?b=1&a=2 and /v1/items/7?a=9&b=3 are both
// "GET /v1/items/{id}?a={}&b={}".
func Endpoint(r *Request) string {
	path, query, _ := strings.Cut(r.Path, "?")
	var b strings.Builder
	b.Grow(len(r.Path) + 8)
	b.WriteString(r.MethodOrGet())
	b.WriteByte(' ')
	if path == "" {
		path = "/"
	}
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if isID(seg) {
			b.WriteString("{id}")
		} else {
			b.WriteString(seg)
		}
	}
	if query == "" {
		return b.String()
	}
	var names []string
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	sort.Strings(names)
	for i, n := range names {
		if i == 0 {
			b.WriteByte('?')
		} else if n == names[i-1] {
			continue
		} else {
			b.WriteByte('&')
		}
		b.WriteString(n)
		b.WriteString("={}")
	}
	return b.String()
}

// isID reports whether a path segment identifies a record.
func isID(s string) bool {
	if s == "" {
		return false
	}
	digits, hex, letters := 0, 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hex++
		case c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z' || c == '_':
			letters++
		case c == '-':
		default:
			return false
		}
	}
	n := len(s)
	switch {
	case digits == n:
		return true // 42
	case n == 36 && strings.Count(s, "-") == 4 && letters == 0:
		return true // a UUID
	case letters == 0 && digits > 0 && strings.Count(s, "-") == 0 && n >= 8:
		return true // a hex digest or object id
	case n >= 24 && digits > 0 && strings.Count(s, "-") == 0:
		return true // an opaque key
	}
	return false
}

// EndpointCounter finds the most frequent endpoints of a traffic file in
// bounded memory (Space-Saving over at most 2,048 endpoints).
type EndpointCounter struct{ top *topK }

// NewEndpointCounter returns an empty counter.
func NewEndpointCounter() *EndpointCounter { return &EndpointCounter{top: newTopK(inspectTopCap)} }

// Add counts one request.
func (c *EndpointCounter) Add(r *Request) { c.top.add(Endpoint(r)) }

// Top returns the n most frequent endpoints, most frequent first.
func (c *EndpointCounter) Top(n int) []NameCount {
	out, _ := c.top.top(n)
	return out
}
