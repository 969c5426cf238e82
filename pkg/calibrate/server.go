package calibrate

import (
	"bytes"
	"net"
	"sync"
)

// response is the fixed answer of the calibration server: the smallest
// complete keep-alive HTTP/1.1 response.
var response = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")

// server is a raw TCP server on loopback answering every request with
// response. It reads requests only far enough to count them (each ends
// at its first blank line: calibration requests have no body), so it
// costs a fraction of what a net/http server would and leaves the CPU to
// the generator being measured.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startServer() (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *server) URL() string { return "http://" + s.ln.Addr().String() }

func (s *server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil { // closed
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

var end = []byte("\r\n\r\n")

// countEnds counts the request ends ("\r\n\r\n") in b, given that the
// previous read ended with matched bytes of a partial end; it returns
// the count and the partial match at the end of b.
func countEnds(b []byte, matched int) (n, partial int) {
	for _, c := range b {
		switch {
		case c == end[matched]:
			matched++
			if matched == len(end) {
				n++
				matched = 0
			}
		case c == '\r':
			matched = 1
		default:
			matched = 0
		}
	}
	return n, matched
}

func (s *server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 32<<10)
	var out []byte
	matched := 0
	for {
		n, err := c.Read(buf)
		if n > 0 {
			var k int
			k, matched = countEnds(buf[:n], matched)
			if k > 0 {
				if k == 1 {
					out = response
				} else {
					out = bytes.Repeat(response, k)
				}
				if _, werr := c.Write(out); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops the server and closes its connections.
func (s *server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}
