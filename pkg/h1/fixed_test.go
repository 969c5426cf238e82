package h1_test

import (
	"bytes"
	"net"
	"testing"
)

// serveFixed answers every request read from c with response. Requests
// are counted by their blank line, so they must have no body (GET): that
// is the cheapest possible server, for measuring the client. It allocates
// nothing per request.
func serveFixed(c net.Conn, response []byte) {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64*len(response))
	sep := []byte("\r\n\r\n")
	carry := 0
	for {
		n, err := c.Read(buf[carry:])
		if err != nil {
			return
		}
		data := buf[:carry+n]
		out = out[:0]
		for {
			i := bytes.Index(data, sep)
			if i < 0 {
				break
			}
			data = data[i+len(sep):]
			out = append(out, response...)
		}
		carry = copy(buf, data)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// newFixedServer starts a fixed-response server in this process and
// returns its address.
func newFixedServer(t testing.TB, response string) string {
	srv := newRawServer(t, func(_ int64, c net.Conn) { serveFixed(c, []byte(response)) })
	return srv.addr()
}
