package importer

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// VegetaTarget is one line of vegeta's JSON targets format
// (`vegeta attack -format=json`): the body is base64.
type VegetaTarget struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   string              `json:"body"`
	Header map[string][]string `json:"header"`
}

// ParseVegetaLine decodes and converts one JSON target.
func ParseVegetaLine(b []byte) (*traffic.Request, error) {
	var t VegetaTarget
	if err := json.Unmarshal(b, &t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &traffic.LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}
		}
		return nil, &traffic.LineError{Msg: "malformed JSON: " + err.Error()}
	}
	return t.TrafficRequest()
}

// TrafficRequest converts a target to a traffic line.
func (t *VegetaTarget) TrafficRequest() (*traffic.Request, error) {
	if t.URL == "" {
		return nil, &traffic.LineError{Field: "url", Msg: "required"}
	}
	if t.Method == "" {
		return nil, &traffic.LineError{Field: "method", Msg: "required"}
	}
	if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
		return nil, &traffic.LineError{Field: "url", Msg: fmt.Sprintf("%q is not an http(s) URL", short(t.URL))}
	}
	path, err := pathOf(t.URL)
	if err != nil {
		return nil, &traffic.LineError{Field: "url", Msg: err.(*traffic.LineError).Msg}
	}
	req := &traffic.Request{Method: strings.ToUpper(t.Method), Path: path}
	for k, vs := range t.Header {
		if skipHeader(k) {
			continue
		}
		if req.Header == nil {
			req.Header = http.Header{}
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if t.Body != "" {
		b, err := base64.StdEncoding.DecodeString(t.Body)
		if err != nil {
			return nil, &traffic.LineError{Field: "body", Msg: "not valid base64 (vegeta JSON targets carry base64 bodies): " + err.Error()}
		}
		req.SetBody(b)
	}
	return req, nil
}

func importVegeta(r io.Reader, name string, st *Stats, out func(*traffic.Request) error, bad func(int, error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), traffic.MaxLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		st.Read++
		req, err := ParseVegetaLine(b)
		if err := deliver(line, req, err, out, bad); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &traffic.LineError{File: name, Line: line + 1, Msg: "reading vegeta targets: " + err.Error()}
	}
	return nil
}
