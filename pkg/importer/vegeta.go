package importer

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// VegetaTarget is one vegeta target: a line of its JSON format
// (`vegeta attack -format=json`, the body in base64) or an entry of its
// default HTTP format.
type VegetaTarget struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   string              `json:"body"`
	Header map[string][]string `json:"header"`

	// body is the HTTP format's body, read from its @file.
	body []byte
}

func parseVegetaJSON(b []byte) (*VegetaTarget, error) {
	var t VegetaTarget
	if err := json.Unmarshal(b, &t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &traffic.LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}
		}
		return nil, &traffic.LineError{Msg: "malformed JSON: " + err.Error()}
	}
	if t.Body != "" {
		b, err := base64.StdEncoding.DecodeString(t.Body)
		if err != nil {
			return nil, &traffic.LineError{Field: "body", Msg: "not valid base64 (vegeta JSON targets carry base64 bodies): " + err.Error()}
		}
		t.body = b
	}
	return &t, nil
}

// TrafficRequest converts a target to a traffic line. As vegeta does, it
// keeps a Host header (the virtual host asked for) and sends the
// credentials of a URL such as http://user:pass@host/ as Basic
// authorization, which the import's redaction then hides.
func (t *VegetaTarget) TrafficRequest() (*traffic.Request, error) {
	req, _, err := t.convert()
	return req, err
}

func (t *VegetaTarget) convert() (*traffic.Request, string, error) {
	if t.URL == "" {
		return nil, "", &traffic.LineError{Field: "url", Msg: "required"}
	}
	if t.Method == "" {
		return nil, "", &traffic.LineError{Field: "method", Msg: "required"}
	}
	path, origin, u, err := absoluteURL("url", t.URL)
	if err != nil {
		return nil, "", err
	}
	req := &traffic.Request{Method: strings.ToUpper(t.Method), Path: path}
	for k, vs := range t.Header {
		if !strings.EqualFold(k, "Host") && skipHeader(k) {
			continue
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if u.User != nil && req.Header.Get("Authorization") == "" {
		if req.Header == nil {
			req.Header = http.Header{}
		}
		pass, _ := u.User.Password()
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	if len(t.body) > 0 {
		req.SetBody(t.body)
	}
	return req, origin, nil
}

// importVegeta reads either of vegeta's target formats, told apart by the
// first non-blank line: a JSON object, or a request line of the HTTP
// format.
func importVegeta(r io.Reader, name, dir string, st *Stats, out func(entry) error, bad func(int, error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), traffic.MaxLine)
	line := 0
	format := byte(0) // '{' JSON, 'h' HTTP
	var h *httpTarget
	// flushHTTP converts the HTTP-format target being read.
	flushHTTP := func() error {
		if h == nil {
			return nil
		}
		cur := h
		h = nil
		st.Read++
		var e entry
		err := cur.err
		if err == nil {
			e.req, e.origin, err = cur.t.convert()
		}
		return deliver(cur.line, e, err, out, bad)
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		if format == 0 {
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			format = 'h'
			if trimmed[0] == '{' {
				format = '{'
			}
		}
		if format == '{' {
			if trimmed == "" {
				continue
			}
			st.Read++
			var e entry
			t, err := parseVegetaJSON(sc.Bytes())
			if err == nil {
				e.req, e.origin, err = t.convert()
			}
			if err := deliver(line, e, err, out, bad); err != nil {
				return err
			}
			continue
		}
		// The HTTP format: "METHOD URL", then "Name: value" headers and
		// an optional "@file" body, up to a blank line or the next
		// request line. Lines starting with # are comments.
		switch {
		case strings.HasPrefix(trimmed, "#"):
		case trimmed == "":
			if err := flushHTTP(); err != nil {
				return err
			}
		case h == nil || vegetaRequestLine(trimmed):
			if err := flushHTTP(); err != nil {
				return err
			}
			h = &httpTarget{line: line}
			method, u, ok := strings.Cut(trimmed, " ")
			if !ok || !vegetaRequestLine(trimmed) {
				h.err = &traffic.LineError{Msg: fmt.Sprintf("%q is not a target line (METHOD http://host/path)", short(trimmed))}
				continue
			}
			h.t.Method, h.t.URL = method, strings.TrimSpace(u)
		case h.err != nil:
		case strings.HasPrefix(trimmed, "@"):
			h.t.body, h.err = readVegetaBody(trimmed[1:], dir)
		default:
			k, v, ok := strings.Cut(trimmed, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				h.err = &traffic.LineError{Field: "header", Msg: fmt.Sprintf("%q is not a header (Name: value), a @body file or a target line", short(trimmed))}
				continue
			}
			if h.t.Header == nil {
				h.t.Header = map[string][]string{}
			}
			h.t.Header[k] = append(h.t.Header[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &traffic.LineError{File: name, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", traffic.MaxLine)}
		}
		return &traffic.LineError{File: name, Line: line + 1, Msg: "reading vegeta targets: " + err.Error()}
	}
	return flushHTTP()
}

// httpTarget is a target of vegeta's HTTP format being read.
type httpTarget struct {
	t    VegetaTarget
	line int
	err  error
}

// vegetaRequestLine reports whether s starts a target of the HTTP format.
func vegetaRequestLine(s string) bool {
	method, rest, ok := strings.Cut(s, " ")
	if !ok || method == "" || strings.ToUpper(method) != method {
		return false
	}
	rest = strings.TrimSpace(rest)
	return strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://")
}

// maxVegetaBody bounds a body file: the largest body a traffic line holds.
const maxVegetaBody = 10 << 20

// readVegetaBody reads an @file body: from the current directory, as
// vegeta does, or else from dir, the targets file's directory.
func readVegetaBody(path, dir string) ([]byte, error) {
	if path == "" {
		return nil, &traffic.LineError{Field: "body", Msg: "@ names no file"}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !filepath.IsAbs(path) && dir != "" {
		f, err = os.Open(filepath.Join(dir, path))
	}
	if err != nil {
		return nil, &traffic.LineError{Field: "body", Msg: fmt.Sprintf("body file %s: %v (looked for from the current directory, as vegeta does, then beside the targets file)", path, errors.Unwrap(err))}
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, &traffic.LineError{Field: "body", Msg: fmt.Sprintf("body file %s is not a regular file", path)}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxVegetaBody+1))
	if err != nil {
		return nil, &traffic.LineError{Field: "body", Msg: fmt.Sprintf("body file %s: %v", path, err)}
	}
	if len(b) > maxVegetaBody {
		return nil, &traffic.LineError{Field: "body", Msg: fmt.Sprintf("body file %s is larger than %d MiB", path, maxVegetaBody>>20)}
	}
	return b, nil
}
