// Package importer converts traffic from other tools into bestbefore
// traffic lines: nginx and Apache combined access logs, HAR 1.2 archives
// and vegeta JSON targets. Every converter streams its input.
package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/h1"
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
	CSV    Format = "csv"
	// OpenAI is JSON lines of OpenAI-style completion requests (or
	// OpenAI Batch API input lines); ShareGPT a ShareGPT-style data set
	// of conversations.
	OpenAI   Format = "openai"
	ShareGPT Format = "sharegpt"
)

// Formats lists the formats, for help texts.
var Formats = []Format{Nginx, Apache, HAR, Vegeta, CSV, OpenAI, ShareGPT}

// FormatNames lists the formats' names, for help texts and completion.
func FormatNames() []string {
	out := make([]string, len(Formats))
	for i, f := range Formats {
		out[i] = string(f)
	}
	return out
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, strings.Join(FormatNames(), ", "))
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
	// Hosts keeps only the requests to these hosts: "api.example.com"
	// (any port) or "api.example.com:8443", in any case; a scheme before
	// it is ignored. Entries that name no host (most access log lines)
	// are kept. Empty keeps every host.
	Hosts []string
	// PathPrefix keeps only the requests whose path starts with it.
	PathPrefix string
	// Dir is where a vegeta HTTP target's relative @body file is looked
	// for when it is not found from the current directory (where vegeta
	// reads it): the targets file's directory. ImportFile sets it.
	Dir string
	// Model names the model of the OpenAI-style requests that name none
	// (every ShareGPT conversation).
	Model string
}

// MaxOrigins is how many distinct origins Stats.Origins counts; the rest
// are counted under "other".
const MaxOrigins = 1000

// Stats tell what an import did.
type Stats struct {
	Read     int // entries read
	Written  int // requests emitted
	Skipped  int // entries that could not be converted (with SkipInvalid)
	NoBody   int // POST/PUT/PATCH requests imported without a body
	Redacted int // requests where a secret was replaced
	// Filtered counts the entries left out by Options.Hosts and PathPrefix.
	Filtered int
	// OneTurn counts the ShareGPT conversations left out for having no
	// answer to take an output length from.
	OneTurn int
	// Origins counts the entries read by origin (scheme://host[:port]),
	// for the entries that name one, before filtering.
	Origins map[string]int
	// Spread counts the requests that shared a log time with others at
	// the log's resolution (a second for access logs) and were spread
	// evenly across it, instead of being sent in one burst.
	Spread int
	// Asterisk counts server-wide requests (OPTIONS *, Apache's internal
	// dummy connections) skipped: they name no resource to replay.
	Asterisk int
	// NoRequest counts log lines without a request line ("-": a
	// connection that timed out before sending one), skipped.
	NoRequest int
	// RemoteUser counts log entries made by an authenticated user
	// ($remote_user): the log holds no credentials, so they are replayed
	// without them.
	RemoteUser int
	// LogBodies counts access log entries whose body the log holds
	// ($request_body).
	LogBodies int
	// Statuses counts the requests imported with the status they got.
	Statuses  int
	Errors    []error
	errorsCap int
}

func (s *Stats) skip(err error) {
	s.Skipped++
	if len(s.Errors) < s.errorsCap {
		s.Errors = append(s.Errors, err)
	}
}

func (s *Stats) origin(o string) {
	if o == "" {
		return
	}
	if s.Origins == nil {
		s.Origins = map[string]int{}
	}
	if _, ok := s.Origins[o]; !ok && len(s.Origins) >= MaxOrigins {
		o = "other"
	}
	s.Origins[o]++
}

// TopOrigins returns the n origins with the most entries, most first.
func (s *Stats) TopOrigins(n int) []traffic.NameCount {
	out := make([]traffic.NameCount, 0, len(s.Origins))
	for k, v := range s.Origins {
		out = append(out, traffic.NameCount{Name: k, Count: int64(v)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// entry is one converted request and the origin it was sent to ("" when
// the input does not say).
type entry struct {
	req    *traffic.Request
	origin string
}

// Import reads entries in format f from r (name is used in errors) and
// calls emit with each converted request. It stops at the first entry that
// cannot be converted, returning a *traffic.LineError naming name and its
// line, unless opts.SkipInvalid is set. Errors from emit stop the import.
// A UTF-8 byte order mark at the start of r is skipped, as the HAR
// specification asks.
func Import(r io.Reader, name string, f Format, opts Options, emit func(*traffic.Request) error) (*Stats, error) {
	st := &Stats{errorsCap: opts.MaxErrors}
	if st.errorsCap <= 0 {
		st.errorsCap = 10
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	// The start of the first line names the format of a file given with
	// the wrong --from.
	var first []byte
	if b, _ := br.Peek(4096); len(b) > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[:i]
		}
		first = bytes.Clone(b)
	}
	hosts := make([]string, 0, len(opts.Hosts))
	for _, h := range opts.Hosts {
		if i := strings.Index(h, "://"); i >= 0 {
			h = h[i+3:]
		}
		hosts = append(hosts, strings.ToLower(strings.TrimSuffix(h, "/")))
	}
	keep := func(e entry) bool {
		if opts.PathPrefix != "" && !strings.HasPrefix(e.req.Path, opts.PathPrefix) {
			return false
		}
		if len(hosts) == 0 || e.origin == "" {
			return true
		}
		hp := strings.ToLower(e.origin[strings.Index(e.origin, "://")+3:])
		hostOnly := hp
		if h, _, err := net.SplitHostPort(hp); err == nil {
			hostOnly = h
		}
		for _, h := range hosts {
			if h == hp || h == hostOnly {
				return true
			}
		}
		return false
	}
	out := func(e entry) error {
		st.origin(e.origin)
		if !keep(e) {
			st.Filtered++
			return nil
		}
		req := e.req
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
		if req.Status != 0 {
			st.Statuses++
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
		if st.Written == 0 && st.Skipped == 0 && first != nil {
			// The first entry fails: the file may be of another format.
			if sf := traffic.Sniff(first); sf.From() != "" && sf.From() != string(f) && !(sf.From() == "nginx" && f == Apache) {
				le.Msg += fmt.Sprintf(": this looks like %s %s; import it with --from %s", sf.Article(), sf, sf.From())
			}
		}
		if opts.SkipInvalid {
			st.skip(le)
			return nil
		}
		return le
	}
	var err error
	switch f {
	case Nginx, Apache:
		err = importLog(br, name, f, st, out, bad)
	case HAR:
		err = importHAR(br, name, st, out, bad)
	case Vegeta:
		err = importVegeta(br, name, opts.Dir, st, out, bad)
	case CSV:
		err = importCSV(br, name, st, out, bad)
	case OpenAI:
		err = importOpenAI(br, name, opts.Model, st, out, bad)
	case ShareGPT:
		err = importShareGPT(br, name, opts.Model, st, out, bad)
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
func deliver(line int, e entry, err error, out func(entry) error, bad func(int, error) error) error {
	if err == nil {
		err = out(e)
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

// absoluteURL parses raw, the URL of an entry's field, which must be an
// absolute http(s) URL: the path and query of a traffic line, the origin
// it names, and the parsed URL (for its credentials).
func absoluteURL(field, raw string) (path, origin string, u *url.URL, err error) {
	u, err = url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", nil, &traffic.LineError{Field: field, Msg: fmt.Sprintf("%q is not an http(s) URL", short(raw))}
	}
	return h1.EscapeTarget(u.RequestURI()), u.Scheme + "://" + u.Host, u, nil
}

// pathOf turns a request target (origin form or absolute URL) into the
// path and query of a traffic line, and the origin an absolute URL names.
func pathOf(target string) (path, origin string, err error) {
	if target == "" {
		return "", "", &traffic.LineError{Field: "path", Msg: "empty request target"}
	}
	if target[0] != '/' {
		u, err := url.Parse(target)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", "", &traffic.LineError{Field: "path", Msg: fmt.Sprintf("%q is neither a path nor an http(s) URL", short(target))}
		}
		target = u.RequestURI()
		if u.Opaque != "" || target == "" {
			target = "/"
		}
		origin = u.Scheme + "://" + u.Host
	}
	return h1.EscapeTarget(target), origin, nil
}

// skipHeaders are not carried over: connection-level headers, the host
// (the scenario's target gives it), the length (replay computes it) and
// HTTP/2 pseudo-headers.
func skipHeader(name string) bool {
	if strings.HasPrefix(name, ":") {
		return true
	}
	return h1.Reserved(name)
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
