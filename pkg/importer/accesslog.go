package importer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// clfTime is the time layout of the common and combined log formats.
const clfTime = "02/Jan/2006:15:04:05 -0700"

// LogEntry is one parsed line of an access log: the common or combined
// format (nginx's default "combined", Apache's "%h %l %u %t \"%r\" %>s %b
// \"%{Referer}i\" \"%{User-agent}i\""; fields after the user agent, such
// as nginx's "$http_x_forwarded_for", are ignored), or a JSON object per
// line as nginx's log_format escape=json writes it.
type LogEntry struct {
	Time time.Time
	// Resolution is how finely the log tells time: a second for the
	// combined format and $time_iso8601, a millisecond for $msec.
	Resolution time.Duration
	Request    string // the request line, unescaped
	Status     string
	Referer    string // "" when absent or "-"
	UserAgent  string // "" when absent or "-"
	User       string // the authenticated user ($remote_user), "" when absent or "-"
	// Body is the request body ($request_body), when the log holds it.
	Body        string
	ContentType string // $content_type, when logged
	Host        string // $host or $http_host, when logged
	Scheme      string // $scheme, when logged
}

// ParseLogLine parses one access log line: the combined or common format,
// or a JSON object (nginx's escape=json log formats).
func ParseLogLine(line string) (*LogEntry, error) {
	if t := strings.TrimSpace(line); strings.HasPrefix(t, "{") {
		return parseJSONLogLine(t)
	}
	p := &logParser{s: line}
	// The remote address, identity and user come before [time]; more
	// fields may lead (a virtual host, addresses of proxies: "10.0.0.2,
	// 10.0.0.1, 127.0.0.1 - -" as nginx's real_ip logs them). The user is
	// the last of them.
	var user string
	n := 0
	for p.more() && p.s[p.i] != '[' && n < 64 {
		user, _ = p.token()
		n++
	}
	if n < 3 {
		what := []string{"remote address", "identity", "user"}[n]
		return nil, &traffic.LineError{Msg: fmt.Sprintf("missing %s (field %d): not a common/combined log line", what, n+1)}
	}
	ts, ok := p.bracketed()
	if !ok {
		return nil, &traffic.LineError{Field: "time", Msg: "missing [time]"}
	}
	t, err := time.Parse(clfTime, ts)
	if err != nil {
		return nil, &traffic.LineError{Field: "time", Msg: fmt.Sprintf("%q is not a log time like 10/Oct/2000:13:55:36 -0700", short(ts))}
	}
	e := &LogEntry{Time: t, Resolution: time.Second, User: dash(user)}
	if e.Request, ok = p.quoted(); !ok {
		return nil, &traffic.LineError{Field: "request", Msg: "missing quoted request line"}
	}
	if e.Status, ok = p.token(); !ok {
		return nil, &traffic.LineError{Field: "status", Msg: "missing"}
	}
	if _, ok = p.token(); !ok {
		return nil, &traffic.LineError{Field: "bytes", Msg: "missing"}
	}
	if p.more() {
		if e.Referer, ok = p.quoted(); !ok {
			return nil, &traffic.LineError{Field: "referer", Msg: "not a quoted string"}
		}
		if p.more() {
			if e.UserAgent, ok = p.quoted(); !ok {
				return nil, &traffic.LineError{Field: "user_agent", Msg: "not a quoted string"}
			}
		}
	}
	e.Referer, e.UserAgent = dash(headerSafe(e.Referer)), dash(headerSafe(e.UserAgent))
	return e, nil
}

// dash turns a log's "-" (no value) into "".
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// jsonLogNames are the keys a JSON access log line may use for each field,
// most usual first: nginx variable names, and the names common log
// shippers' templates use.
var jsonLogNames = struct {
	request, method, uri, args, status, referer, userAgent, user, body, contentType, host, scheme []string
}{
	request:     []string{"request", "request_line"},
	method:      []string{"request_method", "method"},
	uri:         []string{"request_uri", "uri", "url", "path"},
	args:        []string{"args", "query_string"},
	status:      []string{"status", "status_code"},
	referer:     []string{"http_referer", "referer", "referrer"},
	userAgent:   []string{"http_user_agent", "user_agent", "useragent", "agent", "ua"},
	user:        []string{"remote_user", "user"},
	body:        []string{"request_body"},
	contentType: []string{"content_type", "http_content_type"},
	host:        []string{"host", "http_host", "server_name"},
	scheme:      []string{"scheme"},
}

// parseJSONLogLine reads a line of a JSON log format. Values may be
// strings (as "$status" writes them) or bare numbers ($status unquoted).
func parseJSONLogLine(line string) (*LogEntry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return nil, &traffic.LineError{Msg: "malformed JSON log line: " + err.Error()}
	}
	get := func(names []string) string {
		for _, n := range names {
			raw, ok := m[n]
			if !ok {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
			if t := strings.TrimSpace(string(raw)); t != "null" {
				return t // a number or a boolean, as written
			}
		}
		return ""
	}
	e := &LogEntry{
		Status:      get(jsonLogNames.status),
		Referer:     dash(headerSafe(get(jsonLogNames.referer))),
		UserAgent:   dash(headerSafe(get(jsonLogNames.userAgent))),
		User:        dash(get(jsonLogNames.user)),
		Body:        dash(get(jsonLogNames.body)),
		ContentType: dash(headerSafe(get(jsonLogNames.contentType))),
		Host:        dash(get(jsonLogNames.host)),
		Scheme:      dash(get(jsonLogNames.scheme)),
	}
	if e.Request = get(jsonLogNames.request); e.Request == "" {
		method, uri := get(jsonLogNames.method), get(jsonLogNames.uri)
		if method == "" || uri == "" {
			return nil, &traffic.LineError{Field: "request", Msg: "no request line: a JSON log line needs \"request\" ($request), or \"request_method\" and \"request_uri\""}
		}
		if args := get(jsonLogNames.args); args != "" && !strings.Contains(uri, "?") {
			uri += "?" + args
		}
		e.Request = method + " " + uri
	}
	var err error
	switch {
	case m["time_iso8601"] != nil:
		e.Time, err = time.Parse(time.RFC3339, get([]string{"time_iso8601"}))
		e.Resolution = time.Second
	case m["msec"] != nil:
		var f float64
		if f, err = strconv.ParseFloat(get([]string{"msec"}), 64); err == nil {
			e.Time = unixSeconds(f)
			e.Resolution = time.Millisecond
		}
	case m["time_local"] != nil:
		e.Time, err = time.Parse(clfTime, get([]string{"time_local"}))
		e.Resolution = time.Second
	case m["@timestamp"] != nil || m["timestamp"] != nil || m["time"] != nil:
		// $time_iso8601 or $msec under another name.
		v := get([]string{"@timestamp", "timestamp", "time"})
		if f, ferr := strconv.ParseFloat(v, 64); ferr == nil && f > 1e8 {
			e.Time = unixSeconds(f)
			e.Resolution = time.Millisecond
			break
		}
		e.Time, err = time.Parse(time.RFC3339Nano, v)
		e.Resolution = time.Second
		if e.Time.Nanosecond() != 0 {
			e.Resolution = time.Millisecond
		}
	default:
		return nil, &traffic.LineError{Field: "time", Msg: "no time: a JSON log line needs time_iso8601, time_local, msec or @timestamp"}
	}
	if err != nil {
		return nil, &traffic.LineError{Field: "time", Msg: fmt.Sprintf("not a log time: %v", err)}
	}
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return nil, &traffic.LineError{Field: "time", Msg: fmt.Sprintf("year %d is outside 0001-9999: not a log time (msec is seconds since 1970, e.g. 1764079388.250)", y)}
	}
	return e, nil
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last second a log time
// (and a traffic file) can hold.
const maxUnixSeconds = 253402300799

// unixSeconds is the time of f seconds since 1970 to the millisecond; a
// value out of 0001-9999 gives a time the caller refuses by its year.
func unixSeconds(f float64) time.Time {
	if !(f >= -62135596800 && f <= maxUnixSeconds) {
		return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.UnixMilli(int64(math.Round(f * 1000)))
}

// errAsterisk marks a server-wide request (OPTIONS *), which names no
// resource to replay.
var errAsterisk = errors.New("server-wide request (OPTIONS *)")

// errNoRequest marks a line logged without a request line ("-" or ""): a
// connection closed or timed out (408) before a request arrived.
var errNoRequest = errors.New("no request line")

// TrafficRequest converts the entry to a traffic line: method and target
// from the request line, the log time, the status, Referer and
// User-Agent headers, and the body when the log holds one.
func (e *LogEntry) TrafficRequest() (*traffic.Request, error) {
	req, _, err := e.convert()
	return req, err
}

func (e *LogEntry) convert() (*traffic.Request, string, error) {
	parts := strings.Fields(e.Request)
	if e.Request == "-" || len(parts) == 0 {
		return nil, "", errNoRequest
	}
	if len(parts) < 2 {
		return nil, "", &traffic.LineError{Field: "request", Msg: fmt.Sprintf("%q is not a request line (METHOD /path HTTP/x)", short(e.Request))}
	}
	if n := len(parts); n > 2 && strings.HasPrefix(parts[n-1], "HTTP/") {
		parts = parts[:n-1]
	}
	if len(parts) == 2 && parts[1] == "*" {
		return nil, "", errAsterisk
	}
	// A target with spaces was logged unescaped; keep it, escaped.
	target := strings.Join(parts[1:], " ")
	path, origin, err := pathOf(target)
	if err != nil {
		return nil, "", err
	}
	if origin == "" && e.Host != "" {
		scheme := e.Scheme
		if scheme != "https" {
			scheme = "http"
		}
		origin = scheme + "://" + e.Host
	}
	req := &traffic.Request{TS: e.Time.UTC(), Method: strings.ToUpper(parts[0]), Path: path}
	if st, err := strconv.Atoi(e.Status); err == nil && st >= 100 && st <= 599 {
		req.Status = st
	}
	set := func(k, v string) {
		if v == "" {
			return
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set(k, v)
	}
	set("Referer", e.Referer)
	set("User-Agent", e.UserAgent)
	if e.Body != "" {
		req.SetBody([]byte(e.Body))
		set("Content-Type", e.ContentType)
	}
	return req, origin, nil
}

// maxSpread bounds how many requests sharing one log time are held to be
// spread across it; past it, the rest of that instant are spread apart
// from the first ones (a few more than 65,536 requests a second).
const maxSpread = 1 << 16

func importLog(r io.Reader, name string, f Format, st *Stats, out func(entry) error, bad func(int, error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), traffic.MaxLine)
	type held struct {
		line int
		e    entry
	}
	var group []held
	var groupTS time.Time
	var groupRes time.Duration
	// flush spreads the requests logged at the same instant evenly
	// across the log's resolution, in the order they were logged, so a
	// replay by recorded timing does not send them in one burst.
	flush := func() error {
		n := len(group)
		if n > 1 {
			st.Spread += n
		}
		for i, h := range group {
			h.e.req.TS = groupTS.Add(time.Duration(int64(groupRes) * int64(i) / int64(n)))
			if err := deliver(h.line, h.e, nil, out, bad); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if strings.TrimSpace(s) == "" {
			continue
		}
		st.Read++
		le, err := ParseLogLine(s)
		var e entry
		if err == nil {
			e.req, e.origin, err = le.convert()
		}
		if errors.Is(err, errAsterisk) {
			st.Asterisk++
			continue
		}
		if errors.Is(err, errNoRequest) {
			st.NoRequest++
			continue
		}
		if err != nil {
			if err := deliver(line, e, err, out, bad); err != nil {
				return err
			}
			continue
		}
		if le.User != "" {
			st.RemoteUser++
		}
		if le.Body != "" {
			st.LogBodies++
		}
		if len(group) > 0 && (!e.req.TS.Equal(groupTS) || len(group) >= maxSpread) {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(group) == 0 {
			groupTS, groupRes = e.req.TS, le.Resolution
		}
		group = append(group, held{line, e})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &traffic.LineError{File: name, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", traffic.MaxLine)}
		}
		return &traffic.LineError{File: name, Line: line + 1, Msg: fmt.Sprintf("reading %s log: %v", f, err)}
	}
	return flush()
}

// logParser walks a log line field by field.
type logParser struct {
	s string
	i int
}

func (p *logParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *logParser) more() bool {
	p.skipSpace()
	return p.i < len(p.s)
}

func (p *logParser) token() (string, bool) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		p.i++
	}
	return p.s[start:p.i], p.i > start
}

func (p *logParser) bracketed() (string, bool) {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return "", false
	}
	end := strings.IndexByte(p.s[p.i:], ']')
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+end]
	p.i += end + 1
	return v, true
}

// quoted reads a double-quoted field, undoing the escapes nginx (\xHH)
// and Apache (\", \\, \xhh, \n, \t) write.
func (p *logParser) quoted() (string, bool) {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c == '\\' && p.i+1 < len(p.s):
			n := p.s[p.i+1]
			switch n {
			case 'x':
				if p.i+3 < len(p.s) {
					if v, ok := unhex(p.s[p.i+2], p.s[p.i+3]); ok {
						b.WriteByte(v)
						p.i += 4
						continue
					}
				}
				b.WriteByte('\\')
				p.i++
			case 'n':
				b.WriteByte('\n')
				p.i += 2
			case 't':
				b.WriteByte('\t')
				p.i += 2
			default:
				b.WriteByte(n)
				p.i += 2
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false
}

func unhex(a, b byte) (byte, bool) {
	h, ok1 := hexVal(a)
	l, ok2 := hexVal(b)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// headerSafe replaces the line breaks and NULs an unescaped log field may
// hold, which no header value can carry.
func headerSafe(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(s)
}
