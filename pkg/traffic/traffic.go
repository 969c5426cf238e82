// Package traffic reads and writes traffic files: newline-delimited JSON,
// one request a line, optionally gzip-compressed. Files are streamed, never
// held whole in memory.
package traffic

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// Request is one line of a traffic file.
type Request struct {
	TS         time.Time   `json:"ts,omitzero"`
	Method     string      `json:"method,omitempty"`
	Path       string      `json:"path"`
	Header     http.Header `json:"header,omitempty"`
	Body       string      `json:"body,omitempty"`
	BodyBase64 string      `json:"body_base64,omitempty"`
	// Truncated marks a body stored shorter than it was sent.
	Truncated bool `json:"truncated,omitempty"`

	// Line is the 1-based line the request was read from.
	Line int `json:"-"`
	// body caches the decoded body.
	body []byte
}

// BodyBytes returns the request body, decoding body_base64 when set.
func (r *Request) BodyBytes() []byte {
	if r.body != nil || (r.Body == "" && r.BodyBase64 == "") {
		return r.body
	}
	if r.BodyBase64 != "" {
		b, _ := base64.StdEncoding.DecodeString(r.BodyBase64)
		r.body = b
	} else {
		r.body = []byte(r.Body)
	}
	return r.body
}

// MethodOrGet returns the method, GET when unset.
func (r *Request) MethodOrGet() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// LineError is a malformed traffic line.
type LineError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *LineError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrEmpty is returned for a traffic file without any request.
var ErrEmpty = errors.New("traffic: file holds no requests")

// MaxLine is the longest line a traffic file may hold.
const MaxLine = 64 << 20

// Reader streams requests from a traffic file.
type Reader struct {
	name string
	f    io.Closer
	gz   *gzip.Reader
	sc   *bufio.Scanner
	line int
}

// Open opens a traffic file; names ending in .gz are decompressed.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

// NewReader reads traffic from rd; name is used in errors and, when it
// ends in .gz, selects gzip decompression.
func NewReader(rd io.Reader, name string) (*Reader, error) {
	r := &Reader{name: name}
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(bufio.NewReaderSize(rd, 64<<10))
		if err != nil {
			return nil, &LineError{File: name, Line: 0, Msg: "not a gzip file: " + err.Error()}
		}
		r.gz = gz
		rd = gz
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	r.sc = sc
	return r, nil
}

// Next returns the next request, or io.EOF at the end of the file. Blank
// lines are skipped.
func (r *Reader) Next() (*Request, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		req, err := ParseLine(b)
		if err != nil {
			var le *LineError
			if errors.As(err, &le) {
				le.File, le.Line = r.name, r.line
				return nil, le
			}
			return nil, &LineError{File: r.name, Line: r.line, Msg: err.Error()}
		}
		req.Line = r.line
		return req, nil
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{File: r.name, Line: r.line + 1, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		return nil, &LineError{File: r.name, Line: r.line + 1, Msg: err.Error()}
	}
	return nil, io.EOF
}

// nextLine returns a copy of the next non-blank line and its number, or
// io.EOF, without parsing it.
func (r *Reader) nextLine() ([]byte, int, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		return append([]byte(nil), b...), r.line, nil
	}
	if err := r.sc.Err(); err != nil {
		return nil, 0, &LineError{File: r.name, Line: r.line + 1, Msg: err.Error()}
	}
	return nil, 0, io.EOF
}

// Close releases the file.
func (r *Reader) Close() error {
	if r.gz != nil {
		r.gz.Close()
	}
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// ParseLine decodes and validates one traffic line.
func ParseLine(b []byte) (*Request, error) {
	var req Request
	if err := json.Unmarshal(b, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}
		}
		return nil, &LineError{Msg: "malformed JSON: " + err.Error()}
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

var validMethods = map[string]bool{
	"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true,
	"HEAD": true, "OPTIONS": true, "TRACE": true, "CONNECT": false,
}

// Validate checks the fields of a decoded request.
func (r *Request) Validate() error {
	if r.Path == "" {
		return &LineError{Field: "path", Msg: "required"}
	}
	if err := h1.CheckTarget(r.Path); err != nil {
		return &LineError{Field: "path", Msg: wireMsg(err)}
	}
	if r.Method != "" {
		r.Method = strings.ToUpper(r.Method)
		if !validMethods[r.Method] {
			return &LineError{Field: "method", Msg: fmt.Sprintf("%q is not an HTTP method this tool sends", trunc(r.Method))}
		}
	}
	for k, vs := range r.Header {
		if err := h1.CheckHeaderName(k); err != nil {
			return &LineError{Field: "header", Msg: wireMsg(err)}
		}
		for _, v := range vs {
			if err := h1.CheckHeaderValue(v); err != nil {
				return &LineError{Field: "header." + k, Msg: wireMsg(err)}
			}
		}
	}
	if r.Body != "" && r.BodyBase64 != "" {
		return &LineError{Field: "body_base64", Msg: "set body or body_base64, not both"}
	}
	if r.BodyBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(r.BodyBase64)
		if err != nil {
			return &LineError{Field: "body_base64", Msg: "not valid base64: " + err.Error()}
		}
		r.body = b
	}
	return nil
}

// wireMsg is the message of an h1 check without its sentinel prefix.
func wireMsg(err error) string {
	return strings.TrimPrefix(err.Error(), h1.ErrNotWireSafe.Error()+": ")
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Count streams the whole file, validating every line, and returns the
// number of requests. It is how a run checks its traffic before sending.
func Count(path string) (int, error) {
	r, err := Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return n, nil
}

// Writer appends requests to a traffic file.
type Writer struct {
	w   *bufio.Writer
	gz  *gzip.Writer
	f   io.WriteCloser
	enc *json.Encoder
}

// Create opens path for writing; a name ending in .gz is compressed.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return NewWriter(f, strings.HasSuffix(path, ".gz")), nil
}

// NewWriter writes traffic lines to wc, gzip-compressed when gz is true.
// Close closes wc.
func NewWriter(wc io.WriteCloser, gz bool) *Writer {
	w := &Writer{f: wc}
	var out io.Writer = wc
	if gz {
		w.gz = gzip.NewWriter(wc)
		out = w.gz
	}
	w.w = bufio.NewWriterSize(out, 64<<10)
	w.enc = json.NewEncoder(w.w)
	w.enc.SetEscapeHTML(false)
	return w
}

// Write appends one request as a line.
func (w *Writer) Write(r *Request) error { return w.enc.Encode(r) }

// Flush pushes buffered lines (and a gzip flush block) to the file.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	if w.gz != nil {
		return w.gz.Flush()
	}
	return nil
}

// Close flushes and closes the file, writing the gzip trailer.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if w.gz != nil {
		if e := w.gz.Close(); err == nil {
			err = e
		}
	}
	if e := w.f.Close(); err == nil {
		err = e
	}
	return err
}
