package cmd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// wireServer parses every request that reaches it with net/http's own
// parser, as a server or a proxy in front of one would, and records each
// request line. A request smuggled inside a header shows as a request
// more than was sent.
type wireServer struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func startWireServer(t *testing.T) *wireServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws := &wireServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					ws.mu.Lock()
					ws.seen = append(ws.seen, req.Method+" "+req.RequestURI)
					ws.mu.Unlock()
					fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
				}
			}()
		}
	}()
	return ws
}

func (ws *wireServer) requests() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]string(nil), ws.seen...)
}

// Nothing a parser would split reaches the wire: CR/LF or NUL in a
// scenario header, in a --set value, in the URL (percent-encoded too) or
// in a traffic line is refused at validation with exit 2 and the place,
// before one request is sent.
func TestNoSmugglingOntoTheWire(t *testing.T) {
	ws := startWireServer(t)
	smuggle := `1\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: internal\r\nX-Pad: 1`
	base := "name: wire\ntarget:\n  url: http://%s%s\n  headers:\n    %s\ntraffic: {file: t.ndjson}\nload: {start_qps: 5, max_qps: 5, step_duration: 1s, warmup: 0s}\nmonitor: {max_send_lag: 200ms}\n"
	good := `{"path":"/p"}` + "\n"
	for _, tt := range []struct {
		name, path, header, traffic string
		set                         []string
		want                        string
	}{
		{name: "CRLF in a scenario header", header: `X-Trace: "` + smuggle + `"`, want: "s.yaml:5: target.headers.X-Trace"},
		{name: "NUL in a scenario header", header: `X-Trace: "a\0b"`, want: "s.yaml:5: target.headers.X-Trace"},
		{name: "space in a header name", header: `"X Trace": "1"`, want: "s.yaml:5: target.headers.X Trace"},
		{name: "CRLF through --set", header: `X-Ok: "1"`, set: []string{`target.headers={"X-A": "v\r\nX-Injected: yes"}`}, want: "--set: target.headers.X-A"},
		{name: "CRLF in a traffic header", header: `X-Ok: "1"`, traffic: good + `{"path":"/p","header":{"X-A":["v\r\nX-Injected: yes"]}}` + "\n", want: "t.ndjson:2: header.X-A"},
		{name: "CRLF in a traffic path", header: `X-Ok: "1"`, traffic: `{"path":"/p HTTP/1.1\r\nHost: internal\r\n\r\nGET /smuggled"}` + "\n", want: "t.ndjson:1: path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.traffic
			if tr == "" {
				tr = good
			}
			dir := writeFiles(t, map[string]string{"s.yaml": fmt.Sprintf(base, ws.addr, tt.path, tt.header), "t.ndjson": tr})
			before := len(ws.requests())
			args := []string{"run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet"}
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			code, _, stderr := execute(t, context.Background(), args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want 2), stderr %q, want it to name %q", code, stderr, tt.want)
			}
			if got := ws.requests()[before:]; len(got) != 0 {
				t.Errorf("the server parsed %d requests: %q", len(got), got)
			}
		})
	}

	// Clean values: every request the server parses is one the run sent.
	// A space in the base path is escaped, and an encoded CR/LF in the
	// URL stays encoded in the request line, as the user wrote it.
	for path, want := range map[string]string{"/base path": "GET /base%20path/p", "/base%0d%0aX-Injected:%20yes": "GET /base%0d%0aX-Injected:%20yes/p"} {
		t.Run("clean run parses one request per send: "+path, func(t *testing.T) {
			cleanRun(t, ws, fmt.Sprintf(base, ws.addr, path, `X-Trace: "1"`), good, want)
		})
	}
}

func cleanRun(t *testing.T, ws *wireServer, scenario, traffic, want string) {
	{
		dir := writeFiles(t, map[string]string{"s.yaml": scenario, "t.ndjson": traffic})
		before := len(ws.requests())
		code, _, stderr := execute(t, context.Background(), "run", filepath.Join(dir, "s.yaml"), "--out", filepath.Join(dir, "out"), "--quiet")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := ws.requests()[before:]
		if len(got) < 3 {
			t.Fatalf("only %d requests reached the server", len(got))
		}
		for _, r := range got {
			if r != want {
				t.Errorf("request line %q, want %q", r, want)
			}
		}
		var res result.Result
		b, _ := os.ReadFile(filepath.Join(dir, "out", "result.json"))
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, st := range res.Steps {
			sent += int(st.Requests)
		}
		if sent != len(got) {
			t.Errorf("the run counted %d requests, the server parsed %d", sent, len(got))
		}
	}
}
