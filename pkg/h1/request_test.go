package h1_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

func TestAppendRequest(t *testing.T) {
	for _, tc := range []struct {
		name, method, host, path string
		header                   http.Header
		body                     string
		want                     string
	}{
		{name: "get without body has no content-length", method: "GET", host: "a:80", path: "/x?y=1",
			want: "GET /x?y=1 HTTP/1.1\r\nHost: a:80\r\n\r\n"},
		{name: "defaults", want: "GET / HTTP/1.1\r\nHost: \r\n\r\n"},
		{name: "head without body", method: "HEAD", host: "a", path: "/",
			want: "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "post with body", method: "POST", host: "a", path: "/p",
			header: http.Header{"Content-Type": {"application/json"}}, body: `{"k":5}`,
			want: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"k\":5}"},
		{name: "empty post says content-length 0", method: "POST", host: "a", path: "/p",
			want: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
		{name: "get with a body", method: "GET", host: "a", path: "/", body: "q",
			want: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nq"},
		{name: "headers sorted, values in order, framing and hop-by-hop fields dropped", method: "GET", host: "a", path: "/",
			header: http.Header{"X-B": {"2", "3"}, "X-A": {"1"}, "Content-Length": {"99"},
				"Connection": {"close"}, "Transfer-Encoding": {"chunked"}, "Keep-Alive": {"300"}},
			want: "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-B: 3\r\n\r\n"},
		{name: "a Host field names the virtual host, written once", method: "GET", host: "a", path: "/",
			header: http.Header{"Host": {"api.internal"}, "X-A": {"1"}},
			want:   "GET / HTTP/1.1\r\nHost: api.internal\r\nX-A: 1\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			prefix := []byte("kept:")
			got, err := h1.AppendRequest(prefix, tc.method, tc.host, tc.path, tc.header, body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "kept:"+tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, "kept:"+tc.want)
			}
			// net/http reads it back as the same request.
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(got[len(prefix):])))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(req.Body)
			if string(b) != tc.body {
				t.Errorf("body read back %q, want %q", b, tc.body)
			}
		})
	}
}

func TestAppendRequestManyHeaders(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T"} {
		h.Set("X-"+k, k)
	}
	raw := rawRequest("GET", "a", "/", h, nil)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Header) != 20 || req.Header.Get("X-T") != "T" {
		t.Errorf("read back %v", req.Header)
	}
}
