package importer

import (
	"github.com/bestbefore/bestbefore/pkg/h1"

	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
			Params   []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"params"`
		} `json:"postData"`
	} `json:"request"`
}

// TrafficRequest converts a HAR entry to a traffic line.
func (e *HAREntry) TrafficRequest() (*traffic.Request, error) {
	if e.Request.URL == "" {
		return nil, &traffic.LineError{Field: "request.url", Msg: "required"}
	}
	u, err := url.Parse(e.Request.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, &traffic.LineError{Field: "request.url", Msg: fmt.Sprintf("%q is not an http(s) URL", short(e.Request.URL))}
	}
	if e.Request.Method == "" {
		return nil, &traffic.LineError{Field: "request.method", Msg: "required"}
	}
	req := &traffic.Request{Method: strings.ToUpper(e.Request.Method), Path: h1.EscapeTarget(u.RequestURI())}
	if e.StartedDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, e.StartedDateTime)
		if err != nil {
			return nil, &traffic.LineError{Field: "startedDateTime", Msg: fmt.Sprintf("%q is not an ISO 8601 time", short(e.StartedDateTime))}
		}
		req.TS = t.UTC()
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
		switch {
		case pd.Encoding == "base64":
			b, err := base64.StdEncoding.DecodeString(pd.Text)
			if err != nil {
				return nil, &traffic.LineError{Field: "request.postData.text", Msg: "encoding is base64 but the text is not: " + err.Error()}
			}
			req.SetBody(b)
		case pd.Text != "":
			req.SetBody([]byte(pd.Text))
		case len(pd.Params) > 0:
			v := url.Values{}
			for _, p := range pd.Params {
				v.Add(p.Name, p.Value)
			}
			req.SetBody([]byte(v.Encode()))
		}
		if pd.MimeType != "" && req.Header.Get("Content-Type") == "" && (req.Body != "" || req.BodyBase64 != "") {
			if req.Header == nil {
				req.Header = http.Header{}
			}
			req.Header.Set("Content-Type", pd.MimeType)
		}
	}
	return req, nil
}

// importHAR streams the entries of log.entries, one at a time, so a large
// archive is never held whole.
func importHAR(r io.Reader, name string, st *Stats, out func(*traffic.Request) error, bad func(int, error) error) error {
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
		var req *traffic.Request
		if err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				err = &traffic.LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}
			}
		} else {
			req, err = e.TrafficRequest()
		}
		if err := deliver(line, req, err, out, bad); err != nil {
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
