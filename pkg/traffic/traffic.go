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
	"io/fs"
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
	// Status is the HTTP status the request got when it was recorded (an
	// access log's, a HAR's or the recorder's); 0 when unknown. The check
	// `status: recorded` expects a replay to get the same class.
	Status int `json:"status,omitempty"`

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
	if e.Line <= 0 {
		if e.Field != "" {
			return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
		}
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrEmpty is returned for a traffic file without any request.
var ErrEmpty = errors.New("traffic: file holds no requests")

// MaxLine is the longest line a traffic file may hold: 16 MiB, room for a
// body of 10 MiB in base64. A longer line is refused as soon as the
// reader has buffered this much of it.
const MaxLine = 16 << 20

// Reader streams requests from a traffic file.
type Reader struct {
	name string
	f    io.Closer
	gz   *gzip.Reader
	sc   *bufio.Scanner
	line int
	// cut is set when a gzip stream ended before its trailer.
	cut *cutReader
	// parsed is set once a line was read as a request: an error on the
	// first line may come from a file of another format.
	parsed bool
}

// Truncated reports, once Next has returned io.EOF, that the file is a
// gzip stream cut off before its end (a recording killed outright): every
// complete line before the cut was returned, the partial last one was not.
func (r *Reader) Truncated() bool { return r.cut != nil && r.cut.cut }

// cutReader turns a gzip stream's unexpected end into the end of the
// input, remembering it.
type cutReader struct {
	r   io.Reader
	cut bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		c.cut = true
		err = io.EOF
	}
	return n, err
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
		switch {
		case errors.Is(err, io.EOF):
			return nil, &LineError{File: name, Msg: "empty file: a .gz traffic file holds a gzip stream"}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &LineError{File: name, Msg: "gzip stream cut off inside its header: no line is readable"}
		case err != nil:
			return nil, &LineError{File: name, Msg: "not a gzip file, though its name ends in .gz (" + err.Error() + ")"}
		}
		r.gz = gz
		r.cut = &cutReader{r: gz}
		rd = r.cut
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(data) > 0 && bytes.IndexByte(data, '\n') < 0 && r.cut != nil && r.cut.cut {
			return len(data), nil, nil // the partial line a cut stream ends with
		}
		return bufio.ScanLines(data, atEOF)
	})
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
			if !errors.As(err, &le) {
				le = &LineError{Msg: err.Error()}
			}
			le.File, le.Line = r.name, r.line
			if !r.parsed {
				if hint := Sniff(b).Hint(r.name); hint != "" {
					le.Msg += ": " + hint
				}
			}
			return nil, le
		}
		r.parsed = true
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
	if y := r.TS.Year(); !r.TS.IsZero() && (y < 1 || y > 9999) {
		return &LineError{Field: "ts", Msg: fmt.Sprintf("year %d is outside 0001-9999: not a time a traffic file can hold", y)}
	}
	if err := h1.CheckTarget(r.Path); err != nil {
		return &LineError{Field: "path", Msg: h1.Reason(err)}
	}
	if r.Method != "" {
		r.Method = strings.ToUpper(r.Method)
		if !validMethods[r.Method] {
			return &LineError{Field: "method", Msg: fmt.Sprintf("%q is not an HTTP method this tool sends", trunc(r.Method))}
		}
	}
	for k, vs := range r.Header {
		if err := h1.CheckHeaderName(k); err != nil {
			return &LineError{Field: "header", Msg: h1.Reason(err)}
		}
		for _, v := range vs {
			if err := h1.CheckHeaderValue(v); err != nil {
				return &LineError{Field: "header." + k, Msg: h1.Reason(err)}
			}
			if strings.EqualFold(k, "Host") {
				if err := h1.CheckHost(v); err != nil {
					return &LineError{Field: "header." + k, Msg: h1.Reason(err)}
				}
			}
		}
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		return &LineError{Field: "status", Msg: fmt.Sprintf("%d is not an HTTP status (100-599)", r.Status)}
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

// Writer appends requests to a traffic file, whole lines only: a line is
// encoded in memory and reaches the file at the next Flush (or when 64 KiB
// are pending). If writing fails part-way, a file that can be truncated
// is cut back to its last whole line (or, gzip-compressed, its last whole
// gzip member), so it never ends inside a line; the error sticks and every
// later call returns it.
//
// A compressed file is a sequence of gzip members, one per Flush, which
// gzip, zcat and Reader read as one stream: a file cut short by a killed
// process loses only what came after the last Flush.
type Writer struct {
	f     io.WriteCloser
	gz    *gzip.Writer
	buf   bytes.Buffer
	enc   *json.Encoder
	lines int   // lines encoded, not yet in the file
	done  int64 // lines in the file
	off   int64 // bytes of the file up to its last whole line or member
	err   error
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
// When wc is a file (it has Stat and Truncate), lines go after what it
// holds and a failed write is cut back to a whole line. Close closes wc.
func NewWriter(wc io.WriteCloser, gz bool) *Writer {
	w := &Writer{f: wc}
	if t, ok := wc.(truncater); ok {
		if fi, err := t.Stat(); err == nil {
			w.off = fi.Size()
		}
	}
	if gz {
		w.gz = gzip.NewWriter(wc)
	}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	return w
}

// truncater is a file a failed write can be cut back on.
type truncater interface {
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
}

// Write appends one request as a line.
func (w *Writer) Write(r *Request) error {
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Encode(r); err != nil {
		return err
	}
	w.lines++
	if w.gz == nil && w.buf.Len() >= 64<<10 {
		return w.Flush()
	}
	return nil
}

// Lines is the number of lines this Writer has put in the file.
func (w *Writer) Lines() int64 { return w.done }

// Pending is the number of lines written but not yet flushed to the file.
func (w *Writer) Pending() int { return w.lines }

// Flush puts the pending lines in the file: as they are, or as one
// complete gzip member.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.lines == 0 {
		return nil
	}
	var n int64
	var err error
	if w.gz != nil {
		cw := &counter{w: w.f}
		w.gz.Reset(cw)
		if _, err = w.gz.Write(w.buf.Bytes()); err == nil {
			err = w.gz.Close()
		}
		n = cw.n
	} else {
		var m int
		m, err = w.f.Write(w.buf.Bytes())
		n = int64(m)
	}
	if err != nil {
		w.err = err
		if t, ok := w.f.(truncater); ok && n > 0 {
			if terr := t.Truncate(w.off); terr != nil {
				w.err = fmt.Errorf("%w (and cutting the file back to its last whole line failed: %v)", err, terr)
			}
		}
		return w.err
	}
	w.off += n
	w.done += int64(w.lines)
	w.lines = 0
	w.buf.Reset()
	return nil
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	err := w.Flush()
	if e := w.f.Close(); err == nil {
		err = e
	}
	return err
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// CheckAppendable reports whether lines can be appended to the traffic
// file at path: it does not exist, is empty, or ends with a whole line
// (for a .gz file: a complete gzip stream).
func CheckAppendable(path string, gz bool) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if gz {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return fmt.Errorf("%s exists and is not a gzip file", path)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fmt.Errorf("%s exists and its gzip stream is cut off (%v): appending would leave it unreadable", path, err)
		}
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		return fmt.Errorf("%s exists and does not end with a whole line: appending would join two lines", path)
	}
	return nil
}

// ReadAll reads every request of the traffic file at path into memory:
// for small files (tests, tools); a run streams instead.
func ReadAll(path string) ([]*Request, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []*Request
	for {
		req, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, req)
	}
}
