package h1_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// FuzzDiffNetHTTP: where both net/http and h1 accept a response, they
// agree on its status and body.
func FuzzDiffNetHTTP(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.response))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp h1.Response
		_, err := h1.ParseResponse(b, false, true, 0, 4096, &resp)
		if err != nil {
			return
		}
		r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		if r.StatusCode < 200 {
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if r.StatusCode != resp.Status || !bytes.Equal(body, resp.Body) {
			t.Fatalf("net/http %d %q, h1 %d %q", r.StatusCode, body, resp.Status, resp.Body)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.response), tc.head, int64(0))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffff\r\n"), false, int64(0))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n"), false, int64(100))
	f.Fuzz(func(t *testing.T, b []byte, head bool, max int64) {
		if max < 0 {
			max = -max
		}
		var kept, discarded h1.Response
		_, err := h1.ParseResponse(b, head, true, max, 256, &kept)
		_, err2 := h1.ParseResponse(b, head, false, max, 256, &discarded)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("keeping the body: %v; discarding it: %v", err, err2)
		}
		if err != nil {
			return
		}
		if kept.Status < 100 || kept.Status > 999 {
			t.Errorf("status %d accepted", kept.Status)
		}
		if int64(len(kept.Body)) != kept.BodyLen || kept.BodyLen != discarded.BodyLen {
			t.Errorf("body %d bytes, BodyLen %d, discarded BodyLen %d", len(kept.Body), kept.BodyLen, discarded.BodyLen)
		}
		if max > 0 && kept.BodyLen > max {
			t.Errorf("body of %d bytes accepted above the limit %d", kept.BodyLen, max)
		}
	})
}
