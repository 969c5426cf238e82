package h1_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

type parseCase struct {
	name     string
	response string
	head     bool  // the request is a HEAD
	max      int64 // MaxResponseBytes
	bufSize  int
	// what Do must report
	err     error
	status  int
	body    string
	bodyLen int64 // when different from len(body)
	keep    bool  // the connection may carry another request
}

var parseCases = []parseCase{
	{name: "content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
		status: 200, body: "hello", keep: true},
	{name: "content-length zero", response: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		status: 200, keep: true},
	{name: "content-length list of equal values", response: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
		status: 200, body: "hi", keep: true},
	{name: "chunked with extensions and trailers", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\n7 ; x\r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n",
		status: 200, body: "hello, world0123456789", keep: true},
	{name: "chunked without trailers", response: "HTTP/1.1 201 Created\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		status: 201, body: "abc", keep: true},
	{name: "chunked and content-length: chunked wins, connection closed",
		response: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		status:   200, body: "ok", keep: false},
	{name: "connection close", response: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		status: 200, body: "ok", keep: false},
	{name: "connection token list with close", response: "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 2\r\n\r\nok",
		status: 200, body: "ok", keep: false},
	{name: "http/1.0 closes by default", response: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		status: 200, body: "ok", keep: false},
	{name: "http/1.0 keep-alive", response: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		status: 200, body: "ok", keep: true},
	{name: "body delimited by close", response: "HTTP/1.0 200 OK\r\n\r\nuntil the end",
		status: 200, body: "until the end", keep: false},
	{name: "http/1.1 body delimited by close", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes",
		status: 200, body: "raw bytes", keep: false},
	{name: "http/1.0 ignores transfer-encoding", response: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		status: 200, body: "0\r\n\r\n", keep: false},
	{name: "head has no body", head: true, response: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
		status: 200, keep: true},
	{name: "204 has no body", response: "HTTP/1.1 204 No Content\r\n\r\n",
		status: 204, keep: true},
	{name: "304 has no body despite content-length", response: "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
		status: 304, keep: true},
	{name: "100 continue skipped", response: "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone",
		status: 200, body: "done", keep: true},
	{name: "status without reason", response: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n",
		status: 503, keep: true},
	{name: "bare LF line endings", response: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		status: 200, body: "ok", keep: true},
	{name: "body within the limit", max: 5, response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		status: 200, body: "hello", keep: true},

	{name: "header folding rejected", response: "HTTP/1.1 200 OK\r\nX-A: b\r\n  folded\r\nContent-Length: 0\r\n\r\n",
		err: h1.ErrMalformed},
	{name: "space before colon rejected", response: "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
		err: h1.ErrMalformed},
	{name: "header without colon", response: "HTTP/1.1 200 OK\r\nnot a header\r\n\r\n",
		err: h1.ErrMalformed},
	{name: "garbage", response: "garbage garbage\r\n\r\n", err: h1.ErrMalformed},
	{name: "http/2 status line", response: "HTTP/2.0 200 OK\r\n\r\n", err: h1.ErrMalformed},
	{name: "bad status code", response: "HTTP/1.1 2x0 OK\r\n\r\n", err: h1.ErrMalformed},
	{name: "bad content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: h1.ErrMalformed},
	{name: "conflicting content-lengths", response: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		err: h1.ErrMalformed},
	{name: "bad chunk size", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: h1.ErrMalformed},
	{name: "chunk longer than its size", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		err: h1.ErrMalformed},
	{name: "header line longer than the buffer", bufSize: 64,
		response: "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", 100) + "\r\nContent-Length: 0\r\n\r\n", status: 200, keep: true},
	{name: "too large by content-length", max: 4, response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		err: h1.ErrTooLarge},
	{name: "too large chunked", max: 4, response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
		err: h1.ErrTooLarge},
	{name: "too large until close", max: 4, response: "HTTP/1.0 200 OK\r\n\r\nhello", err: h1.ErrTooLarge},
	{name: "truncated body", response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", err: io.ErrUnexpectedEOF},
	{name: "truncated chunked body", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		err: io.ErrUnexpectedEOF},
	{name: "truncated header", response: "HTTP/1.1 200 OK\r\nContent-Len", err: io.ErrUnexpectedEOF},
}

func TestParseResponse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, keepBody := range []bool{true, false} {
				var resp h1.Response
				bufSize := tc.bufSize
				if bufSize == 0 {
					bufSize = 4096
				}
				keep, err := h1.ParseResponse([]byte(tc.response), tc.head, keepBody, tc.max, bufSize, &resp)
				checkResponse(t, tc, keepBody, &resp, err)
				if err == nil && keep != tc.keep {
					t.Errorf("keep-alive = %v, want %v", keep, tc.keep)
				}
			}
		})
	}
}

func checkResponse(t *testing.T, tc parseCase, keepBody bool, resp *h1.Response, err error) {
	t.Helper()
	if !isErr(err, tc.err) {
		t.Fatalf("keepBody=%v: err = %v, want %v", keepBody, err, tc.err)
	}
	if tc.err != nil {
		return
	}
	if resp.Status != tc.status {
		t.Errorf("status = %d, want %d", resp.Status, tc.status)
	}
	wantLen := int64(len(tc.body))
	if tc.bodyLen != 0 {
		wantLen = tc.bodyLen
	}
	if resp.BodyLen != wantLen {
		t.Errorf("keepBody=%v: BodyLen = %d, want %d", keepBody, resp.BodyLen, wantLen)
	}
	wantBody := tc.body
	if !keepBody {
		wantBody = ""
	}
	if string(resp.Body) != wantBody {
		t.Errorf("keepBody=%v: body = %q, want %q", keepBody, resp.Body, wantBody)
	}
}

// TestDoParsing runs the same table through a Client against a server
// writing each response on a real connection; a second request tells
// whether the connection was kept.
func TestDoParsing(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			// A body delimited by close, or an error, needs the server to
			// close after answering.
			closeAfter := !tc.keep
			srv := cannedServer(t, tc.response, closeAfter)
			c := h1.NewClient(srv.addr(), h1.Options{MaxResponseBytes: tc.max, ReadBufferSize: tc.bufSize})
			defer c.CloseIdle()
			method := "GET"
			if tc.head {
				method = "HEAD"
			}
			raw := rawRequest(method, "example.test", "/x", nil, nil)
			var resp h1.Response
			err := c.Do(raw, deadline(), true, &resp)
			checkResponse(t, tc, true, &resp, err)
			if tc.err != nil {
				return
			}
			err = c.Do(raw, deadline(), false, &resp)
			checkResponse(t, tc, false, &resp, err)
			want := int64(2)
			if tc.keep {
				want = 1
			}
			if got := srv.accepted.Load(); got != want {
				t.Errorf("server accepted %d connections for two requests, want %d", got, want)
			}
		})
	}
}

func TestHeaderValue(t *testing.T) {
	var resp h1.Response
	_, err := h1.ParseResponse([]byte("HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Type:  application/json \r\nX-Id: 1\r\nx-id: 2\r\nContent-Length: 0\r\n\r\n"),
		false, true, 0, 4096, &resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"content-type", "application/json", true},
		{"CONTENT-TYPE", "application/json", true},
		{"X-Id", "1", true},
		{"Content-Length", "0", true},
		{"X-Interim", "", false}, // from the interim response, not the final one
		{"X-Missing", "", false},
		{"Content", "", false},
	} {
		got, ok := resp.HeaderValue(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("HeaderValue(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if want := "Content-Type:  application/json \r\nX-Id: 1\r\nx-id: 2\r\nContent-Length: 0\r\n"; string(resp.Header) != want {
		t.Errorf("Header = %q, want %q", resp.Header, want)
	}
}
