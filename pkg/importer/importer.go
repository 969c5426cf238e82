// Package importer converts traffic from other tools into bestbefore
// traffic lines: nginx and Apache combined access logs, HAR 1.2 archives
// and vegeta JSON targets. Every converter streams its input.
package importer

import (
	"github.com/bestbefore/bestbefore/pkg/h1"

	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Format names an input format.
type Format string

// The formats Import reads.
const (
	Nginx  Format = "nginx"
	Apache Format = "apache"
	HAR    Format = "har"
	Vegeta Format = "vegeta"
)

// Formats lists the formats, for help texts.
var Formats = []Format{Nginx, Apache, HAR, Vegeta}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want nginx, apache, har or vegeta)", s)
}

// Options configure Import.
type Options struct {
	// SkipInvalid counts entries that cannot be converted instead of
	// stopping at the first one.
	SkipInvalid bool
	// Redactor removes secrets (headers, JSON body fields) from imported
	// requests; nil keeps them.
	Redactor *traffic.Redactor
	// MaxErrors is how many skipped entries' errors Stats keeps (default 10).
	MaxErrors int
}

// Stats tell what an import did.
type Stats struct {
	Read      int // entries read
	Written   int // requests emitted
	Skipped   int // entries that could not be converted (with SkipInvalid)
	NoBody    int // requests with a method that usually has a body, imported without one (logs hold no bodies)
	Redacted  int // requests where a secret was replaced
	Errors    []error
	errorsCap int
}

func (s *Stats) skip(err error) {
	s.Skipped++
	if len(s.Errors) < s.errorsCap {
		s.Errors = append(s.Errors, err)
	}
}

// Import reads entries in format f from r (name is used in errors) and
// calls emit with each converted request. It stops at the first entry that
// cannot be converted, returning a *traffic.LineError naming name and its
// line, unless opts.SkipInvalid is set. Errors from emit stop the import.
func Import(r io.Reader, name string, f Format, opts Options, emit func(*traffic.Request) error) (*Stats, error) {
	st := &Stats{errorsCap: opts.MaxErrors}
	if st.errorsCap <= 0 {
		st.errorsCap = 10
	}
	out := func(req *traffic.Request) error {
		if err := req.Validate(); err != nil {
			return err
		}
		rs := opts.Redactor.Apply(req)
		if rs.Changed() {
			st.Redacted++
		}
		if req.Body == "" && req.BodyBase64 == "" && (req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch) {
			st.NoBody++
		}
		if err := emit(req); err != nil {
			return emitError{err}
		}
		st.Written++
		return nil
	}
	// bad handles an entry that cannot be converted; a nil return means
	// carry on.
	bad := func(line int, err error) error {
		var le *traffic.LineError
		if !errors.As(err, &le) {
			le = &traffic.LineError{Msg: err.Error()}
		}
		le.File, le.Line = name, line
		if opts.SkipInvalid {
			st.skip(le)
			return nil
		}
		return le
	}
	var err error
	switch f {
	case Nginx, Apache:
		err = importLog(r, name, f, st, out, bad)
	case HAR:
		err = importHAR(r, name, st, out, bad)
	case Vegeta:
		err = importVegeta(r, name, st, out, bad)
	default:
		err = fmt.Errorf("unknown format %q", f)
	}
	return st, err
}

// emitError marks an error returned by emit, which is not about the input.
type emitError struct{ err error }

// deliver emits a converted request, or routes the failure: an error of
// the output stops the import, a line that could not be converted goes to
// bad (which stops it too unless invalid lines are skipped).
func deliver(line int, req *traffic.Request, err error, out func(*traffic.Request) error, bad func(int, error) error) error {
	if err == nil {
		err = out(req)
	}
	if err == nil {
		return nil
	}
	var ee emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	return bad(line, err)
}

func (e emitError) Error() string { return e.err.Error() }
func (e emitError) Unwrap() error { return e.err }

// pathOf turns a request target (origin form or absolute URL) into the
// path and query of a traffic line.
func pathOf(target string) (string, error) {
	if target == "" {
		return "", &traffic.LineError{Field: "path", Msg: "empty request target"}
	}
	if target[0] != '/' {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", &traffic.LineError{Field: "path", Msg: fmt.Sprintf("%q is neither a path nor an http(s) URL", short(target))}
		}
		target = u.RequestURI()
		if u.Opaque != "" || target == "" {
			target = "/"
		}
	}
	return h1.EscapeTarget(target), nil
}

// skipHeaders are not carried over: connection-level headers, the host
// (the scenario's target gives it), the length (replay computes it) and
// HTTP/2 pseudo-headers.
func skipHeader(name string) bool {
	if strings.HasPrefix(name, ":") {
		return true
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection",
		"Transfer-Encoding", "Te", "Trailer", "Upgrade":
		return true
	}
	return false
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
