package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// CSVColumns says what a CSV traffic file's header may name: the request's
// method (default GET, POST with a body), its url (absolute) or path, its
// body, and any header as header:NAME (content_type for Content-Type).
const CSVColumns = "method, url or path, body, content_type, header:NAME"

// csvLayout is where a CSV file's header puts each field.
type csvLayout struct {
	method, url, path, body, ctype int
	headers                        map[int]string
}

func parseCSVHeader(cols []string) (*csvLayout, error) {
	l := &csvLayout{method: -1, url: -1, path: -1, body: -1, ctype: -1, headers: map[int]string{}}
	for i, c := range cols {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(c, "\ufeff")))
		set := func(p *int) error {
			if *p >= 0 {
				return &traffic.LineError{Field: name, Msg: "column given twice"}
			}
			*p = i
			return nil
		}
		var err error
		switch {
		case name == "method":
			err = set(&l.method)
		case name == "url":
			err = set(&l.url)
		case name == "path":
			err = set(&l.path)
		case name == "body":
			err = set(&l.body)
		case name == "content_type" || name == "content-type":
			err = set(&l.ctype)
		case strings.HasPrefix(name, "header:") && len(name) > len("header:"):
			l.headers[i] = strings.TrimSpace(c[strings.Index(c, ":")+1:])
		default:
			err = &traffic.LineError{Field: c, Msg: "unknown column (the header names " + CSVColumns + ")"}
		}
		if err != nil {
			return nil, err
		}
	}
	if (l.url < 0) == (l.path < 0) {
		return nil, &traffic.LineError{Msg: "the header must name a url or a path column, one of them (it names " + CSVColumns + ")"}
	}
	return l, nil
}

// importCSV reads a CSV file with a header line (CSVColumns), one request
// a row, as spreadsheets and SQL exports write them (RFC 4180 quoting, so
// a body may hold commas, quotes and line breaks).
func importCSV(r io.Reader, name string, st *Stats, out func(entry) error, bad func(int, error) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cols, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return bad(1, &traffic.LineError{Msg: "empty file: want a header line naming " + CSVColumns})
	}
	if err != nil {
		return bad(1, csvError(err))
	}
	l, err := parseCSVHeader(cols)
	if err != nil {
		return bad(1, err)
	}
	cr.FieldsPerRecord = len(cols)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			st.Read++
			if e := bad(line, csvError(err)); e != nil {
				return e
			}
			if pe == nil || errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			return nil // a quoting error leaves the rest unreadable
		}
		line, _ := cr.FieldPos(0)
		st.Read++
		var e entry
		e.req, e.origin, err = l.request(rec)
		if err := deliver(line, e, err, out, bad); err != nil {
			return err
		}
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &traffic.LineError{Msg: "CSV: " + pe.Err.Error()}
	}
	return err
}

func (l *csvLayout) request(rec []string) (*traffic.Request, string, error) {
	req := &traffic.Request{}
	var origin string
	if l.url >= 0 {
		path, o, _, err := absoluteURL("url", strings.TrimSpace(rec[l.url]))
		if err != nil {
			return nil, "", err
		}
		req.Path, origin = path, o
	} else {
		path, o, err := pathOf(strings.TrimSpace(rec[l.path]))
		if err != nil {
			return nil, "", err
		}
		req.Path, origin = path, o
	}
	if l.body >= 0 && rec[l.body] != "" {
		req.SetBody([]byte(rec[l.body]))
	}
	if l.method >= 0 {
		req.Method = strings.ToUpper(strings.TrimSpace(rec[l.method]))
	}
	if req.Method == "" && l.body >= 0 && rec[l.body] != "" {
		req.Method = http.MethodPost
	}
	if req.Method == http.MethodGet {
		req.Method = ""
	}
	add := func(k, v string) {
		if v == "" || skipHeader(k) {
			return
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Add(k, v)
	}
	if l.ctype >= 0 {
		add("Content-Type", strings.TrimSpace(rec[l.ctype]))
	}
	for i, k := range l.headers {
		add(k, strings.TrimSpace(rec[i]))
	}
	if err := req.Validate(); err != nil {
		return nil, "", fmt.Errorf("%w", err)
	}
	return req, origin, nil
}
