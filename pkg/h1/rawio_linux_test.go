//go:build linux

package h1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func rawPair(t *testing.T) (client net.Conn, rw io.ReadWriter, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	t.Cleanup(func() { client.Close(); server.Close() })
	rw = newRawIO(client)
	if _, ok := rw.(*rawIO); !ok {
		t.Fatalf("newRawIO gave %T for a TCP connection", rw)
	}
	return client, rw, server
}

// A write larger than the socket buffers waits for the reader and still
// writes every byte, in order.
func TestRawIOLargeWriteAndRead(t *testing.T) {
	_, rw, server := rawPair(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the writer fill the buffers first
		b, _ := io.ReadAll(io.LimitReader(server, int64(len(want))))
		got <- b
	}()
	if n, err := rw.Write(want); err != nil || n != len(want) {
		t.Fatalf("write: %d bytes, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("server read %d bytes, not what was written", len(b))
	}
	server.Write([]byte("pong"))
	buf := make([]byte, 16)
	n, err := io.ReadAtLeast(rw, buf, 4)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if n, err := rw.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d, %v", n, err)
	}
}

func TestRawIOEndOfStreamResetAndDeadline(t *testing.T) {
	t.Run("eof", func(t *testing.T) {
		_, rw, server := rawPair(t)
		server.Close()
		if _, err := rw.Read(make([]byte, 8)); err != io.EOF {
			t.Fatalf("read after the peer closed: %v, want io.EOF", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		_, rw, server := rawPair(t)
		server.(*net.TCPConn).SetLinger(0)
		server.Close()
		time.Sleep(20 * time.Millisecond)
		_, err := rw.Read(make([]byte, 8))
		if !errors.Is(err, syscall.ECONNRESET) || !isStale(err) {
			t.Fatalf("read after a reset: %v, want ECONNRESET", err)
		}
		var ne *net.OpError
		if !errors.As(err, &ne) {
			t.Errorf("%T is not a *net.OpError", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		client, rw, _ := rawPair(t)
		client.SetDeadline(time.Now().Add(30 * time.Millisecond))
		start := time.Now()
		_, err := rw.Read(make([]byte, 8))
		if !errors.Is(err, os.ErrDeadlineExceeded) || classify(err) != ErrTimeout {
			t.Fatalf("read past the deadline: %v", err)
		}
		if waited := time.Since(start); waited < 25*time.Millisecond || waited > 2*time.Second {
			t.Errorf("returned after %v, want about 30ms", waited)
		}
	})
}

func BenchmarkRawIORoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name string
		rw   io.ReadWriter
	}{{"net.Conn", c}, {"raw", newRawIO(c)}} {
		b.Run(tc.name, func(b *testing.B) {
			msg, buf := []byte("GET / HTTP/1.1\r\n\r\n"), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				tc.rw.Write(msg)
				io.ReadFull(tc.rw, buf[:len(msg)])
			}
		})
	}
}
