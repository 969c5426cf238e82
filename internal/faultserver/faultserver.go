// Package faultserver holds loopback HTTP/1.1 servers that misbehave on
// purpose: they hang, trickle, send too much, fail every request, or die in
// the middle of a run. Tests point the tool at them and check that what it
// records is what happened.
//
// The servers speak HTTP/1.1 over raw TCP so that the fault is exactly the
// one asked for: no library buffering, timeouts or retries in between.
package faultserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Behavior answers the requests of one connection. It reads requests from
// br and writes responses to c until it returns; the server then closes c.
// stop is closed when the server is killed or closed.
type Behavior func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server)

// Server is a loopback TCP server running a Behavior on each connection.
type Server struct {
	// URL is http://127.0.0.1:port.
	URL  string
	Addr string

	// Accepted counts connections accepted, Requests requests read.
	Accepted atomic.Int64
	Requests atomic.Int64
	// Open is the number of connections open now; MaxOpen the most at once.
	Open    atomic.Int64
	MaxOpen atomic.Int64

	ln       net.Listener
	behavior Behavior
	stop     chan struct{}
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// Start serves b on 127.0.0.1 until the test ends.
func Start(t testing.TB, b Behavior) *Server {
	t.Helper()
	s, err := Listen(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen serves b on an ephemeral loopback port.
func Listen(b Behavior) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, behavior: b, stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.Addr = ln.Addr().String()
	s.URL = "http://" + s.Addr
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.stop:
			s.mu.Unlock()
			reset(c)
			continue
		default:
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.Accepted.Add(1)
		n := s.Open.Add(1)
		for {
			m := s.MaxOpen.Load()
			if n <= m || s.MaxOpen.CompareAndSwap(m, n) {
				break
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.behavior(c, bufio.NewReader(c), s.stop, s)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
			s.Open.Add(-1)
		}()
	}
}

// Kill makes the server die like a crashed node: the listening socket is
// closed, so new connections are refused, and every open connection is
// reset (RST, not an orderly close) whatever it was doing.
func (s *Server) Kill() {
	s.once.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		close(s.stop)
		for c := range s.conns {
			reset(c)
		}
		s.mu.Unlock()
	})
}

// Close kills the server and waits for its goroutines.
func (s *Server) Close() {
	s.Kill()
	s.wg.Wait()
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// ReadRequest reads one request and its body; it returns false when the
// connection ended or the server stopped.
func (s *Server) ReadRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, req.Body)
	req.Body.Close()
	if err != nil {
		return false
	}
	s.Requests.Add(1)
	return true
}

// Hang reads each request and never answers it: the connection stays open
// until the client gives up or the server stops.
func Hang() Behavior {
	return func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server) {
		if !s.ReadRequest(br) {
			return
		}
		gone := make(chan struct{})
		go func() {
			// A read returns when the client closes the connection.
			io.Copy(io.Discard, br)
			close(gone)
		}()
		select {
		case <-gone:
		case <-stop:
		}
	}
}

// Trickle answers 200 with a body of size bytes, written one byte every
// every: a response that is always coming and never done.
func Trickle(size int, every time.Duration) Behavior {
	return func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server) {
		if !s.ReadRequest(br) {
			return
		}
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", size); err != nil {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; i < size; i++ {
			select {
			case <-t.C:
			case <-stop:
				return
			}
			if _, err := c.Write([]byte{'.'}); err != nil {
				return
			}
		}
	}
}

// Huge answers 200 with a body of size bytes, as fast as the client reads.
// With chunked set the length is not announced in advance.
func Huge(size int64, chunked bool) Behavior {
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	return func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server) {
		for s.ReadRequest(br) {
			var err error
			if chunked {
				_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
			} else {
				_, err = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", size)
			}
			for left := size; err == nil && left > 0; {
				n := min(left, int64(len(chunk)))
				if chunked {
					_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", n, chunk[:n])
				} else {
					_, err = c.Write(chunk[:n])
				}
				left -= n
			}
			if chunked && err == nil {
				_, err = io.WriteString(c, "0\r\n\r\n")
			}
			if err != nil {
				return
			}
		}
	}
}

// Status answers every request at once with the given status and body.
func Status(code int, body string) Behavior {
	resp := []byte(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), len(body), body))
	return func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server) {
		for s.ReadRequest(br) {
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
}

// Slow answers 200 after service: it sends the status line, headers and
// the first half of the body at once, and the rest after service. A node
// killed while it serves leaves its clients with half a response.
func Slow(service time.Duration) Behavior {
	const body = `{"ok":true,"items":[1,2,3]}`
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:len(body)/2])
	tail := []byte(body[len(body)/2:])
	return func(c net.Conn, br *bufio.Reader, stop <-chan struct{}, s *Server) {
		t := time.NewTimer(0)
		<-t.C
		defer t.Stop()
		for s.ReadRequest(br) {
			if _, err := c.Write(head); err != nil {
				return
			}
			t.Reset(service)
			select {
			case <-t.C:
			case <-stop:
				return
			}
			if _, err := c.Write(tail); err != nil {
				return
			}
		}
	}
}
