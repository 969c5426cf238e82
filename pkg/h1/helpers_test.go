package h1_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// rawServer is a TCP server on loopback that hands each connection to
// serve and counts the connections it accepted.
type rawServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newRawServer(t testing.TB, serve func(n int64, c net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// readRequest reads one request and its body; false at the end of the
// connection.
func readRequest(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err == nil
}

// cannedServer answers every request with response, and closes the
// connection after it when closeAfter.
func cannedServer(t testing.TB, response string, closeAfter bool) *rawServer {
	return newRawServer(t, func(_ int64, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, ok := readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, response); err != nil || closeAfter {
				return
			}
		}
	})
}

func deadline() time.Time { return time.Now().Add(5 * time.Second) }

func isErr(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}

// rawRequest serializes a request that is known to be safe to send.
func rawRequest(method, host, target string, header http.Header, body []byte) []byte {
	return rawRequestTo(nil, method, host, target, header, body)
}

func rawRequestTo(dst []byte, method, host, target string, header http.Header, body []byte) []byte {
	b, err := h1.AppendRequest(dst, method, host, target, header, body)
	if err != nil {
		panic(err)
	}
	return b
}
