package importer

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// clfTime is the time layout of the common and combined log formats.
const clfTime = "02/Jan/2006:15:04:05 -0700"

// LogEntry is one parsed line of an access log in the common or combined
// format (nginx's default "combined", Apache's "%h %l %u %t \"%r\" %>s %b
// \"%{Referer}i\" \"%{User-agent}i\""). Fields after the user agent, such
// as nginx's "$http_x_forwarded_for", are ignored.
type LogEntry struct {
	Time      time.Time
	Request   string // the request line, unescaped
	Status    string
	Referer   string // "" when absent or "-"
	UserAgent string // "" when absent or "-"
}

// ParseLogLine parses one access log line.
func ParseLogLine(line string) (*LogEntry, error) {
	p := &logParser{s: line}
	for i, what := range []string{"remote address", "identity", "user"} {
		if _, ok := p.token(); !ok {
			return nil, &traffic.LineError{Msg: fmt.Sprintf("missing %s (field %d): not a common/combined log line", what, i+1)}
		}
	}
	ts, ok := p.bracketed()
	if !ok {
		return nil, &traffic.LineError{Field: "time", Msg: "missing [time]"}
	}
	t, err := time.Parse(clfTime, ts)
	if err != nil {
		return nil, &traffic.LineError{Field: "time", Msg: fmt.Sprintf("%q is not a log time like 10/Oct/2000:13:55:36 -0700", short(ts))}
	}
	e := &LogEntry{Time: t}
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
	e.Referer, e.UserAgent = headerSafe(e.Referer), headerSafe(e.UserAgent)
	if e.Referer == "-" {
		e.Referer = ""
	}
	if e.UserAgent == "-" {
		e.UserAgent = ""
	}
	return e, nil
}

// TrafficRequest converts the entry to a traffic line: method and target
// from the request line, the log time, Referer and User-Agent headers.
func (e *LogEntry) TrafficRequest() (*traffic.Request, error) {
	parts := strings.Fields(e.Request)
	if len(parts) < 2 {
		return nil, &traffic.LineError{Field: "request", Msg: fmt.Sprintf("%q is not a request line (METHOD /path HTTP/x)", short(e.Request))}
	}
	if n := len(parts); n > 2 && strings.HasPrefix(parts[n-1], "HTTP/") {
		parts = parts[:n-1]
	}
	// A target with spaces was logged unescaped; keep it, escaped.
	target := strings.Join(parts[1:], " ")
	path, err := pathOf(target)
	if err != nil {
		return nil, err
	}
	req := &traffic.Request{TS: e.Time.UTC(), Method: strings.ToUpper(parts[0]), Path: path}
	if e.Referer != "" || e.UserAgent != "" {
		req.Header = http.Header{}
		if e.Referer != "" {
			req.Header.Set("Referer", e.Referer)
		}
		if e.UserAgent != "" {
			req.Header.Set("User-Agent", e.UserAgent)
		}
	}
	return req, nil
}

func importLog(r io.Reader, name string, f Format, st *Stats, out func(*traffic.Request) error, bad func(int, error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if strings.TrimSpace(s) == "" {
			continue
		}
		st.Read++
		e, err := ParseLogLine(s)
		var req *traffic.Request
		if err == nil {
			req, err = e.TrafficRequest()
		}
		if err := deliver(line, req, err, out, bad); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &traffic.LineError{File: name, Line: line + 1, Msg: fmt.Sprintf("reading %s log: %v", f, err)}
	}
	return nil
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
