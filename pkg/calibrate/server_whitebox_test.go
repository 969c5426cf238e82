package calibrate

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Requests split anywhere across reads are each answered once.
func TestCountEndsAcrossReads(t *testing.T) {
	stream := strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5) + "GET / HTTP/1.1\r\n\r\r\n\r\n"
	for size := 1; size <= len(stream); size++ {
		n, m := 0, 0
		for i := 0; i < len(stream); i += size {
			k := 0
			k, m = countEnds([]byte(stream[i:min(i+size, len(stream))]), m)
			n += k
		}
		if n != 6 || m != 0 {
			t.Fatalf("reads of %d bytes: %d requests (partial %d), want 6", size, n, m)
		}
	}
}

// The server speaks HTTP/1.1 well enough for net/http, pipelined too.
func TestServerAnswersKeepAlive(t *testing.T) {
	s, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "http://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, strings.Repeat("GET /calibrate HTTP/1.1\r\nHost: a\r\n\r\n", 3)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != "ok" || res.Close {
			t.Errorf("response %d: %d %q close=%v", i, res.StatusCode, b, res.Close)
		}
	}
}
