// Command server is the benchmark's loopback HTTP/1.1 server: it answers
// every request on a keep-alive connection with the same fixed 200
// response and does nothing else, so that what a benchmark measures is the
// load generator, not the server. With -grpc it is a gRPC server instead:
// the Open Inference Protocol's ModelInfer answers every call at once with
// the same one-score response (server reflection on, for ghz).
//
//	server [-listen 127.0.0.1:0] [-body '{"ok":true}'] [-grpc]
//
// It prints the address it listens on as its first line of standard output
// and serves until standard input closes or it is interrupted. It reads
// requests with or without a Content-Length body; chunked request bodies
// are not supported (the connection is closed), nor requests larger than
// 16 KiB. It listens on loopback only.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on")
	body := fs.String("body", `{"ok":true}`, "response `body`")
	grpcMode := fs.Bool("grpc", false, "serve gRPC (OIP ModelInfer) instead of HTTP/1.1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "server: -listen %q: %v\n", *listen, err)
		return 2
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "server: -listen %q: only loopback addresses are allowed\n", *listen)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	fmt.Fprintln(stdout, ln.Addr())
	resp := Response(*body)
	if *grpcMode {
		srv := newGRPC()
		go srv.Serve(ln)
		defer srv.Stop()
	} else {
		go acceptLoop(ln, resp)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	ln.Close()
	return 0
}

// acceptLoop serves every connection ln accepts until it is closed.
func acceptLoop(ln net.Listener, resp []byte) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c, resp)
	}
}

// Response is the fixed answer with the given body.
func Response(body string) []byte {
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// serve answers every complete request read from c with resp, writing the
// answers to all the requests of one read in a single write.
func serve(c net.Conn, resp []byte) {
	defer c.Close()
	buf := make([]byte, 0, 16<<10)
	out := make([]byte, 0, 4*len(resp))
	for {
		if len(buf) == cap(buf) {
			return // a request head larger than the buffer
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		out = out[:0]
		for {
			used, ok, bad := nextRequest(buf)
			if bad {
				return
			}
			if !ok {
				break
			}
			out = append(out, resp...)
			buf = buf[:copy(buf, buf[used:])]
		}
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

var (
	headEnd       = []byte("\r\n\r\n")
	contentLength = []byte("content-length:")
	chunked       = []byte("transfer-encoding:")
)

// nextRequest reports the length of the first complete request in b (head
// and Content-Length body); ok is false when b holds no complete request
// yet, bad when the request cannot be read by this server.
func nextRequest(b []byte) (n int, ok, bad bool) {
	i := bytes.Index(b, headEnd)
	if i < 0 {
		return 0, false, false
	}
	head := b[:i]
	n = i + len(headEnd)
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if len(line) > len(chunked) && bytes.EqualFold(line[:len(chunked)], chunked) {
			return 0, false, true
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			v, err := strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			if err != nil || v < 0 {
				return 0, false, true
			}
			n += v
		}
	}
	if n > len(b) {
		return 0, false, false
	}
	return n, true, false
}
