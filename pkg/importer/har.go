package importer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// HAREntry is the part of a HAR 1.2 entry an import reads.
type HAREntry struct {
	StartedDateTime string `json:"startedDateTime"`
	Request         struct {
		Method  string `json:"method"`
		URL     string `json:"url"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		PostData *struct {
			MimeType string     `json:"mimeType"`
			Text     string     `json:"text"`
			Encoding string     `json:"encoding"`
			Params   []HARParam `json:"params"`
		} `json:"postData"`
	} `json:"request"`
	Response *struct {
		Status int `json:"status"`
	} `json:"response"`
}

// HARParam is a posted parameter. Writers differ on the value's type
// (chrome-har writes numbers and booleans as they are), so any JSON
// scalar is read as its text.
type HARParam struct {
	Name        string    `json:"name"`
	Value       HARScalar `json:"value"`
	FileName    string    `json:"fileName"`
	ContentType string    `json:"contentType"`
}

// HARScalar is a JSON string, number, boolean or null read as text: a
// string as it is, a number or boolean as written, null as "".
type HARScalar string

// UnmarshalJSON reads any JSON scalar.
func (v *HARScalar) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = HARScalar(s)
		return nil
	}
	t := strings.TrimSpace(string(b))
	switch {
	case t == "null":
		*v = ""
	case t == "true" || t == "false" || json.Valid(b) && t != "" && (t[0] == '-' || t[0] >= '0' && t[0] <= '9'):
		*v = HARScalar(t)
	default:
		return fmt.Errorf("want a string, number or boolean, got %s", short(t))
	}
	return nil
}

// TrafficRequest converts a HAR entry to a traffic line.
func (e *HAREntry) TrafficRequest() (*traffic.Request, error) {
	req, _, err := e.convert()
	return req, err
}

func (e *HAREntry) convert() (*traffic.Request, string, error) {
	if e.Request.URL == "" {
		return nil, "", &traffic.LineError{Field: "request.url", Msg: "required"}
	}
	path, origin, _, err := absoluteURL("request.url", e.Request.URL)
	if err != nil {
		return nil, "", err
	}
	if e.Request.Method == "" {
		return nil, "", &traffic.LineError{Field: "request.method", Msg: "required"}
	}
	req := &traffic.Request{Method: strings.ToUpper(e.Request.Method), Path: path}
	if e.StartedDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, e.StartedDateTime)
		if err != nil {
			return nil, "", &traffic.LineError{Field: "startedDateTime", Msg: fmt.Sprintf("%q is not an ISO 8601 time", short(e.StartedDateTime))}
		}
		req.TS = t.UTC()
	}
	if e.Response != nil && e.Response.Status >= 100 && e.Response.Status <= 599 {
		req.Status = e.Response.Status // 0: the browser got no response
	}
	for _, h := range e.Request.Headers {
		if skipHeader(h.Name) {
			continue
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Add(h.Name, h.Value)
	}
	if pd := e.Request.PostData; pd != nil {
		ctype := req.Header.Get("Content-Type")
		if ctype == "" {
			ctype = pd.MimeType
		}
		switch {
		case pd.Encoding == "base64":
			b, err := base64.StdEncoding.DecodeString(pd.Text)
			if err != nil {
				return nil, "", &traffic.LineError{Field: "request.postData.text", Msg: "encoding is base64 but the text is not: " + err.Error()}
			}
			req.SetBody(b)
		case pd.Text != "":
			req.SetBody([]byte(pd.Text))
		case len(pd.Params) > 0:
			body, ct, err := paramsBody(pd.Params, ctype)
			if err != nil {
				return nil, "", err
			}
			req.SetBody(body)
			ctype = ct
		}
		if ctype != "" && (req.Body != "" || req.BodyBase64 != "") {
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Set("Content-Type", ctype)
		}
	}
	return req, origin, nil
}

// paramsBody builds a body from posted parameters (a HAR without the
// posted text) in the encoding its Content-Type names, and returns it with
// the Content-Type to send: form-urlencoded (also when no type is given),
// or multipart/form-data with the boundary given, or a new one. Any other
// type cannot be rebuilt from parameters and is refused.
func paramsBody(params []HARParam, ctype string) ([]byte, string, error) {
	mt, mp, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		mt, err = "application/x-www-form-urlencoded", nil
		ctype = mt
	}
	if err != nil {
		return nil, "", &traffic.LineError{Field: "request.postData.mimeType", Msg: fmt.Sprintf("%q is not a media type: %v", short(ctype), err)}
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		var b strings.Builder
		for i, p := range params {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(p.Name))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(string(p.Value)))
		}
		return []byte(b.String()), ctype, nil
	case "multipart/form-data":
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if b := mp["boundary"]; b != "" {
			if err := w.SetBoundary(b); err != nil {
				return nil, "", &traffic.LineError{Field: "request.postData.mimeType", Msg: fmt.Sprintf("boundary %q: %v", short(b), err)}
			}
		} else {
			ctype = w.FormDataContentType()
		}
		for _, p := range params {
			var pw io.Writer
			if p.FileName != "" {
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscaper.Replace(p.Name), quoteEscaper.Replace(p.FileName)))
				ct := p.ContentType
				if ct == "" {
					ct = "application/octet-stream"
				}
				h.Set("Content-Type", ct)
				pw, err = w.CreatePart(h)
			} else {
				pw, err = w.CreateFormField(p.Name)
			}
			if err == nil {
				_, err = io.WriteString(pw, string(p.Value))
			}
			if err != nil {
				return nil, "", err
			}
		}
		if err := w.Close(); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), ctype, nil
	}
	return nil, "", &traffic.LineError{Field: "request.postData", Msg: fmt.Sprintf("holds params but no text, and a %s body cannot be rebuilt from params (only form-urlencoded and multipart/form-data can)", mt)}
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// importHAR streams the entries of log.entries, one at a time, so a large
// archive is never held whole.
func importHAR(r io.Reader, name string, st *Stats, out func(entry) error, bad func(int, error) error) error {
	lt := &lineTracker{r: r}
	dec := json.NewDecoder(lt)
	fail := func(err error) error {
		line := lt.lineAt(dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = lt.lineAt(se.Offset)
		}
		msg := err.Error()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			msg = "unexpected end of file"
		}
		return &traffic.LineError{File: name, Line: line, Msg: "not a HAR file: " + msg}
	}
	// Walk to log.entries.
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	found := false
	for dec.More() && !found {
		key, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if key != "log" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		if err := expectDelim(dec, '{'); err != nil {
			return fail(err)
		}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return fail(err)
			}
			if key == "entries" {
				found = true
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
		}
		if !found {
			return fail(errors.New(`no "entries" in "log"`))
		}
	}
	if !found {
		return fail(errors.New(`no "log" object`))
	}
	if err := expectDelim(dec, '['); err != nil {
		return fail(err)
	}
	for dec.More() {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(err)
		}
		// The entry starts after the separator and blanks before it.
		line := lt.lineAt(start + lt.skipToBrace(start))
		st.Read++
		var e HAREntry
		err := json.Unmarshal(raw, &e)
		var ent entry
		if err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				err = &traffic.LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}
			}
		} else {
			ent.req, ent.origin, err = e.convert()
		}
		if err := deliver(line, ent, err, out, bad); err != nil {
			return err
		}
	}
	return nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q, found %v", string(d), tok)
	}
	return nil
}

// lineTracker counts lines in what the decoder reads, keeping only the
// newline offsets the decoder may still ask about, so memory stays
// bounded by the decoder's read-ahead.
type lineTracker struct {
	r     io.Reader
	read  int64   // bytes read so far
	base  int     // newlines before the first kept offset
	nl    []int64 // offsets of newlines not yet passed
	tail  []byte  // bytes after the last lookup, for skipToBrace
	tailA int64   // offset of tail[0]
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.nl = append(t.nl, t.read+int64(i))
		}
	}
	t.tail = append(t.tail, p[:n]...)
	t.read += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off. Offsets must not
// decrease between calls.
func (t *lineTracker) lineAt(off int64) int {
	i := 0
	for i < len(t.nl) && t.nl[i] < off {
		i++
	}
	t.base += i
	t.nl = t.nl[i:]
	if drop := off - t.tailA; drop > 0 && drop <= int64(len(t.tail)) {
		t.tail = t.tail[drop:]
		t.tailA = off
	}
	return t.base + 1
}

// skipToBrace returns how far past off the next '{' is.
func (t *lineTracker) skipToBrace(off int64) int64 {
	rel := off - t.tailA
	if rel < 0 {
		return 0
	}
	for j := rel; j < int64(len(t.tail)); j++ {
		if t.tail[j] == '{' {
			return j - rel
		}
	}
	return 0
}
