package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start runs the server on a free loopback port and returns its address;
// it stops when the test ends.
func start(t *testing.T, args ...string) string {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"-listen", "127.0.0.1:0"}, args...), stdinR, outW, io.Discard) }()
	addr, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdinW.Close()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("server exited with %d", code)
			}
		case <-time.After(5 * time.Second):
			t.Error("server did not stop when stdin closed")
		}
	})
	return strings.TrimSpace(addr)
}

func TestServesKeepAliveWithNetHTTP(t *testing.T) {
	addr := start(t, "-body", "hello")
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for i := range 50 {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = cl.Get("http://" + addr + "/v1/predict?q=x")
		} else {
			resp, err = cl.Post("http://"+addr+"/v1/predict", "application/json", strings.NewReader(`{"query":"wireless mouse"}`))
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello" {
			t.Fatalf("request %d: %d %q, want 200 \"hello\"", i, resp.StatusCode, b)
		}
	}
}

// Pipelined requests, split at arbitrary points, each get one answer, in order.
func TestAnswersEveryRequestOfASplitStream(t *testing.T) {
	addr := start(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var stream bytes.Buffer
	const n = 20
	for i := range n {
		if i%3 == 0 {
			fmt.Fprintf(&stream, "POST /p HTTP/1.1\r\nHost: x\r\ncontent-length: %d\r\n\r\n%s", 5+i, strings.Repeat("b", 5+i))
		} else {
			fmt.Fprintf(&stream, "GET /g%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
	}
	go func() {
		b := stream.Bytes()
		for len(b) > 0 {
			k := min(7, len(b))
			c.Write(b[:k])
			b = b[k:]
			time.Sleep(time.Millisecond)
		}
	}()
	want := Response(`{"ok":true}`)
	got := make([]byte, n*len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %d answers: %v", n, err)
	}
	if !bytes.Equal(got, bytes.Repeat(want, n)) {
		t.Fatalf("answers differ from %d copies of %q", n, want)
	}
}

func TestNextRequest(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       int
		ok, bad bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n", 0, false, false},
		{"GET / HTTP/1.1\r\n\r\nGET", 18, true, false},
		{"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 41, true, false},
		{"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 0, false, true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, true},
	} {
		n, ok, bad := nextRequest([]byte(tc.in))
		if n != tc.n || ok != tc.ok || bad != tc.bad {
			t.Errorf("nextRequest(%q) = %d, %v, %v; want %d, %v, %v", tc.in, n, ok, bad, tc.n, tc.ok, tc.bad)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-listen", "0.0.0.0:0"}, strings.NewReader(""), io.Discard, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}
}
