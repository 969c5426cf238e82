package h1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// newCountingServer is an httptest server echoing the request path in the
// body; it counts the connections it accepted.
func newCountingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
		}
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestKeepAliveReuse(t *testing.T) {
	srv, conns := newCountingServer(t, nil)
	c := h1.NewClient(srv.Listener.Addr().String(), h1.Options{})
	defer c.CloseIdle()
	var resp h1.Response
	for i := range 100 {
		path := fmt.Sprintf("/item/%d?q=x", i)
		raw := rawRequest("POST", "example.test", path, nil, []byte("payload"))
		if err := c.Do(raw, deadline(), true, &resp); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := "POST " + path + " payload"; string(resp.Body) != want || resp.Status != 200 {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.Status, resp.Body, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("100 sequential requests used %d connections, want 1", n)
	}
}

// TestStaleConnectionRetriedOnce: the server closes each connection after
// one answer, without saying so. The pooled connection is then stale: the
// next request must succeed on a fresh connection.
func TestStaleConnectionRetriedOnce(t *testing.T) {
	srv := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true)
	c := h1.NewClient(srv.addr(), h1.Options{})
	defer c.CloseIdle()
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var resp h1.Response
	for i := range 5 {
		if err := c.Do(raw, deadline(), true, &resp); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(resp.Body) != "ok" {
			t.Fatalf("request %d: body %q", i, resp.Body)
		}
		// Let the server's close reach the client before the next request.
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.accepted.Load(); n != 5 {
		t.Errorf("server accepted %d connections for 5 requests, want 5", n)
	}
}

// TestStaleRetryNotRepeated: after a stale pooled connection, the fresh
// connection also ends without an answer; Do must give up, not loop.
func TestStaleRetryNotRepeated(t *testing.T) {
	srv := newRawServer(t, func(n int64, c net.Conn) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		if n == 1 { // only the first connection ever answers, then closes
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	c := h1.NewClient(srv.addr(), h1.Options{})
	defer c.CloseIdle()
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var resp h1.Response
	if err := c.Do(raw, deadline(), false, &resp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	err := c.Do(raw, deadline(), false, &resp)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("server accepted %d connections, want 2 (the stale one, one retry)", n)
	}
}

func TestNoRetryAfterPartialResponse(t *testing.T) {
	srv := newRawServer(t, func(n int64, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, ok := readRequest(br); !ok {
				return
			}
			if i == 1 { // the second request on a connection gets half an answer
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	c := h1.NewClient(srv.addr(), h1.Options{})
	defer c.CloseIdle()
	raw := rawRequest("POST", "example.test", "/charge", nil, []byte("1 EUR"))
	var resp h1.Response
	if err := c.Do(raw, deadline(), false, &resp); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(raw, deadline(), false, &resp); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1: a request the server answered in part is not sent again", n)
	}
}

func TestTimeoutWhenServerNeverAnswers(t *testing.T) {
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		io.Copy(io.Discard, c) // read forever, never answer
	})
	c := h1.NewClient(srv.addr(), h1.Options{})
	defer c.CloseIdle()
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var resp h1.Response
	start := time.Now()
	err := c.Do(raw, start.Add(200*time.Millisecond), false, &resp)
	took := time.Since(start)
	if !errors.Is(err, h1.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took < 190*time.Millisecond || took > 3*time.Second {
		t.Errorf("timed out after %v, want about 200ms", took)
	}
}

func TestTimeoutInsideSlowBody(t *testing.T) {
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart")
		time.Sleep(2 * time.Second)
	})
	c := h1.NewClient(srv.addr(), h1.Options{})
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var resp h1.Response
	if err := c.Do(raw, time.Now().Add(150*time.Millisecond), true, &resp); !errors.Is(err, h1.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := h1.NewClient(addr, h1.Options{})
	var resp h1.Response
	err = c.Do(rawRequest("GET", addr, "/", nil, nil), deadline(), false, &resp)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ECONNREFUSED", err)
	}
}

func TestConnectionReset(t *testing.T) {
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		c.(*net.TCPConn).SetLinger(0) // close with a RST
	})
	c := h1.NewClient(srv.addr(), h1.Options{})
	var resp h1.Response
	err := c.Do(rawRequest("GET", "example.test", "/", nil, nil), deadline(), false, &resp)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want ECONNRESET", err)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1: a fresh connection is not retried", n)
	}
}

func TestDeadlineAlreadyPassed(t *testing.T) {
	srv := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)
	c := h1.NewClient(srv.addr(), h1.Options{})
	var resp h1.Response
	err := c.Do(rawRequest("GET", "example.test", "/", nil, nil), time.Now().Add(-time.Second), false, &resp)
	if !errors.Is(err, h1.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

// TestConcurrentDo checks, under -race, that concurrent requests each get
// their own answer and that connections are shared, not multiplied.
func TestConcurrentDo(t *testing.T) {
	srv, conns := newCountingServer(t, nil)
	c := h1.NewClient(srv.Listener.Addr().String(), h1.Options{})
	defer c.CloseIdle()
	const workers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp h1.Response
			var raw []byte
			for i := range each {
				path := fmt.Sprintf("/w%d/%d", w, i)
				raw = rawRequestTo(raw[:0], "GET", "example.test", path, nil, nil)
				if err := c.Do(raw, deadline(), true, &resp); err != nil {
					errs <- err
					return
				}
				if want := "GET " + path + " "; string(resp.Body) != want {
					errs <- fmt.Errorf("got %q, want %q", resp.Body, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := conns.Load(); n > workers {
		t.Errorf("%d workers opened %d connections, want at most %d", workers, n, workers)
	}
}

func TestMaxConns(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv, conns := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	})
	c := h1.NewClient(srv.Listener.Addr().String(), h1.Options{MaxConns: 2})
	defer c.CloseIdle()
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp h1.Response
			for range 10 {
				if err := c.Do(raw, deadline(), false, &resp); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d requests in flight at once, want at most 2", p)
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("%d connections opened, want at most 2", n)
	}
}

func TestMaxConnsWaitEndsAtDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		<-release
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	defer close(release)
	c := h1.NewClient(srv.addr(), h1.Options{MaxConns: 1})
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	go func() {
		var resp h1.Response
		c.Do(raw, deadline(), false, &resp) // holds the only connection
	}()
	for srv.accepted.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var resp h1.Response
	start := time.Now()
	err := c.Do(raw, start.Add(100*time.Millisecond), false, &resp)
	if !errors.Is(err, h1.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("waited %v for a connection, want about 100ms", took)
	}
}

func TestCloseIdle(t *testing.T) {
	srv, conns := newCountingServer(t, nil)
	c := h1.NewClient(srv.Listener.Addr().String(), h1.Options{})
	raw := rawRequest("GET", "example.test", "/", nil, nil)
	var resp h1.Response
	for range 2 {
		if err := c.Do(raw, deadline(), false, &resp); err != nil {
			t.Fatal(err)
		}
		c.CloseIdle()
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: CloseIdle drops the pooled connection", n)
	}
}

// TestDoDoesNotAllocate: in steady state a request costs no allocation.
func TestDoDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are global to the process")
	}
	srv := newFixedServer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world")
	c := h1.NewClient(srv, h1.Options{})
	defer c.CloseIdle()
	raw := rawRequest("GET", "example.test", "/", http.Header{"Accept": {"*/*"}}, nil)
	var resp h1.Response
	dl := deadline()
	for _, keepBody := range []bool{false, true} {
		allocs := testing.AllocsPerRun(500, func() {
			if err := c.Do(raw, dl, keepBody, &resp); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 || resp.BodyLen != 11 {
			t.Errorf("keepBody=%v: %v allocations per request (body %d bytes), want 0", keepBody, allocs, resp.BodyLen)
		}
	}
}

func TestRequestHeadersArrive(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv, _ := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r
	})
	c := h1.NewClient(srv.Listener.Addr().String(), h1.Options{})
	raw := rawRequest("PUT", "svc.internal:8080", "/a/b?c=d",
		http.Header{"Content-Type": {"application/json"}, "X-Multi": {"1", "2"}}, []byte(`{}`))
	var resp h1.Response
	if err := c.Do(raw, deadline(), false, &resp); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.Method != "PUT" || r.Host != "svc.internal:8080" || r.URL.RequestURI() != "/a/b?c=d" ||
		r.Header.Get("Content-Type") != "application/json" || strings.Join(r.Header["X-Multi"], ",") != "1,2" ||
		r.ContentLength != 2 {
		t.Errorf("server saw %s %s host %q header %v length %d", r.Method, r.URL, r.Host, r.Header, r.ContentLength)
	}
}
