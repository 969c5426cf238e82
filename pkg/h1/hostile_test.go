package h1_test

import (
	"bufio"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// A hostile server cannot exhaust the generator through the response
// header: header lines without end, a hundred thousand short fields, one
// field line without end, or a status line without end each fail as
// ErrHeaderTooLarge (or a malformed line, past the read buffer) after
// about the bound (1 MiB, 1,000 fields), not after the server tires. The
// server offers up to 64 MiB of header; the client allocates a small
// fraction of it (before the bound, 100,000 short fields took 259 MB).
func TestHostileResponseHeadersAreBounded(t *testing.T) {
	const offered = 64 << 20
	line := "X-Inf: " + strings.Repeat("v", 1017) + "\r\n" // 1 KiB
	cases := []struct {
		name      string
		head      string
		repeat    string
		wantLarge bool
	}{
		{"endless header lines", "HTTP/1.1 200 OK\r\n", line, true},
		{"100,000 short fields", "HTTP/1.1 200 OK\r\n", "X-S: 1\r\n", true},
		{"one endless field line", "HTTP/1.1 200 OK\r\nX-Inf: ", strings.Repeat("v", 1024), false},
		{"endless status line", "HTTP/1.1 200 ", strings.Repeat("O", 1024), false},
	}
	for _, tc := range cases {
		srv := newRawServer(t, func(_ int64, c net.Conn) {
			br := bufio.NewReader(c)
			if _, ok := readRequest(br); !ok {
				return
			}
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			w := bufio.NewWriterSize(c, 64<<10)
			w.WriteString(tc.head)
			for sent := 0; sent < offered; sent += len(tc.repeat) { // bounded: 64 MiB at most
				if _, err := w.WriteString(tc.repeat); err != nil {
					return // the client gave up: what a bound does
				}
			}
			w.WriteString("\r\n")
			w.Flush()
		})
		doers := map[string]h1.Doer{"Client": h1.NewClient(srv.addr(), h1.Options{})}
		std, err := h1.NewStd("http://"+srv.addr(), h1.Options{})
		if err != nil {
			t.Fatal(err)
		}
		doers["Std"] = std
		for name, d := range doers {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				err := d.Do(rawRequest("GET", srv.addr(), "/", nil, nil), time.Now().Add(20*time.Second), false, &h1.Response{})
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Fatal("a response with an unbounded header was accepted")
				}
				if name == "Client" && !tc.wantLarge && !errors.Is(err, h1.ErrMalformed) && !errors.Is(err, h1.ErrHeaderTooLarge) {
					t.Errorf("error %v, want a malformed line or ErrHeaderTooLarge", err)
				}
				if (tc.wantLarge || name == "Std") && !errors.Is(err, h1.ErrHeaderTooLarge) {
					t.Errorf("error %v, want ErrHeaderTooLarge", err)
				}
				// What the 1 MiB taken costs, in the process as a whole
				// (net/http's header map, for https targets, is about ten
				// times it with tiny fields): far from the 64 MiB offered.
				const limit = 24 << 20
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
					t.Errorf("reading the header allocated %d MiB, against a 1 MiB bound (limit %d MiB)", alloc>>20, limit>>20)
				}
				t.Log(err)
			})
		}
	}
}

// A legitimate long header line (a long Content-Security-Policy, a large
// Set-Cookie) is read whole, whatever the read buffer: 4 KiB, 8 KiB and
// 64 KiB lines succeed, twice on one connection; a line past the 1 MiB
// header bound fails as ErrHeaderTooLarge, never as a malformed response.
func TestLongHeaderLinesAreRead(t *testing.T) {
	for _, n := range []int{4 << 10, 8 << 10, 64 << 10, 1<<20 + 1} {
		value := strings.Repeat("c", n)
		srv := newRawServer(t, func(_ int64, c net.Conn) {
			br := bufio.NewReader(c)
			for range 2 {
				if _, ok := readRequest(br); !ok {
					return
				}
				c.SetWriteDeadline(time.Now().Add(20 * time.Second))
				w := bufio.NewWriter(c)
				w.WriteString("HTTP/1.1 200 OK\r\nContent-Security-Policy: " + value + "\r\nContent-Length: 2\r\n\r\nok")
				if w.Flush() != nil {
					return
				}
			}
		})
		std, err := h1.NewStd("http://"+srv.addr(), h1.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string]h1.Doer{"Client": h1.NewClient(srv.addr(), h1.Options{}), "Std": std} {
			for i := range 2 {
				var resp h1.Response
				err := d.Do(rawRequest("GET", srv.addr(), "/", nil, nil), time.Now().Add(20*time.Second), false, &resp)
				if n > 1<<20 {
					if !errors.Is(err, h1.ErrHeaderTooLarge) {
						t.Errorf("%s, %d-byte header line: error %v, want ErrHeaderTooLarge", name, n, err)
					}
					break
				}
				if err != nil || resp.Status != 200 {
					t.Errorf("%s, %d-byte header line, request %d: status %d, error %v", name, n, i+1, resp.Status, err)
				}
			}
		}
	}
}
