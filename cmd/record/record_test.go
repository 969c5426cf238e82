package record_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdRecord "github.com/bestbefore/bestbefore/cmd/record"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func TestRecordCommandRecordsUntilCancelled(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	ios, _, _, stderr := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	out := filepath.Join(t.TempDir(), "rec.ndjson.gz")
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runWithReady(ctx, f, up.URL, out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not start")
	}
	for i := 0; i < 3; i++ {
		resp, err := http.Post("http://"+addr+"/v1/login", "application/json", strings.NewReader(`{"user":"a","pin":"9876"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("proxied response %q", b)
		}
	}
	cancel() // what Ctrl-C does through signal.NotifyContext
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, err := traffic.Count(out) // reads the gzip stream to its trailer
	if err != nil || n != 3 {
		t.Fatalf("file holds %d requests (%v), want 3", n, err)
	}
	if !strings.Contains(stderr.String(), "recorded 3 of 3 requests") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func runWithReady(ctx context.Context, f *cmdutil.Factory, upstream, out string, ready chan string) error {
	var captured *cmdRecord.Options
	c := cmdRecord.NewCmdRecord(f, func(o *cmdRecord.Options) error { captured = o; return nil })
	c.SetArgs([]string{"--upstream", upstream, "--listen", "127.0.0.1:0", "--out", out, "--redact-field", "pin", "--progress", "0"})
	if err := c.Execute(); err != nil {
		return err
	}
	captured.Ready = func(addr string) { ready <- addr }
	return cmdRecord.Run(ctx, captured)
}

func TestRecordCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--out", "x"},
		{"--upstream", "ftp://h", "--out", "x"},
		{"--upstream", "http://127.0.0.1:1", "--out", "x", "--sample", "2"},
		{"--upstream", "http://127.0.0.1:1", "--out", "x", "--max-body", "lots"},
		{"--upstream", "http://127.0.0.1:1", "--out", "x", "--no-redact", "--redact-field", "a"},
		{"--upstream", "http://127.0.0.1:1", "--out", "x", "--no-redact", "--keep-field", "token"},
		{"--upstream", "http://127.0.0.1:1", "--out", "x", "--upstream-timeout", "0s"},
		// The guard covers the recorder's upstream: public and link-local
		// addresses need --allow-public (refused before anything listens).
		{"--upstream", "http://8.8.8.8", "--out", "x"},
		{"--upstream", "http://169.254.169.254/latest/meta-data", "--out", "x"},
	} {
		ios, _, _, _ := iostreams.Test()
		c := cmdRecord.NewCmdRecord(&cmdutil.Factory{IOStreams: ios}, nil)
		c.SetArgs(args)
		c.SilenceErrors, c.SilenceUsage = true, true
		if err := c.Execute(); cmdutil.CodeOf(err) != cmdutil.ExitBadInput {
			t.Errorf("%v: exit %d (%v), want 2", args, cmdutil.CodeOf(err), err)
		}
	}
}

// --out appends: a second recording into the same file keeps the first
// one's lines, for plain and gzip files; a file that ends mid-line is
// refused unless --force, which starts it afresh.
func TestRecordCommandAppends(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	for _, name := range []string{"rec.ndjson", "rec.ndjson.gz"} {
		out := filepath.Join(t.TempDir(), name)
		session := func(n int, extra ...string) error {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios}
			var captured *cmdRecord.Options
			c := cmdRecord.NewCmdRecord(f, func(o *cmdRecord.Options) error { captured = o; return nil })
			c.SetArgs(append([]string{"--upstream", up.URL, "--listen", "127.0.0.1:0", "--out", out, "--progress", "0"}, extra...))
			c.SilenceErrors, c.SilenceUsage = true, true
			if err := c.Execute(); err != nil {
				return err
			}
			ready := make(chan string, 1)
			captured.Ready = func(addr string) { ready <- addr }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cmdRecord.Run(ctx, captured) }()
			var addr string
			select {
			case addr = <-ready:
			case err := <-done:
				cancel()
				return err
			}
			for i := 0; i < n; i++ {
				resp, err := http.Get("http://" + addr + "/v1/items?i=" + string(rune('a'+i)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			cancel()
			return <-done
		}
		if err := session(6); err != nil {
			t.Fatal(err)
		}
		if err := session(1); err != nil {
			t.Fatal(err)
		}
		if n, err := traffic.Count(out); err != nil || n != 7 {
			t.Fatalf("%s: %d lines after two sessions of 6 and 1 (%v), want 7", name, n, err)
		}
		if err := session(2, "--force"); err != nil {
			t.Fatal(err)
		}
		if n, err := traffic.Count(out); err != nil || n != 2 {
			t.Fatalf("%s: %d lines after --force, want 2 (%v)", name, n, err)
		}
	}
	half := filepath.Join(t.TempDir(), "half.ndjson")
	os.WriteFile(half, []byte("{\"path\":\"/\"}\n{\"pa"), 0o600)
	ios, _, _, _ := iostreams.Test()
	c := cmdRecord.NewCmdRecord(&cmdutil.Factory{IOStreams: ios}, nil)
	c.SetArgs([]string{"--upstream", up.URL, "--listen", "127.0.0.1:0", "--out", half, "--duration", "1ms"})
	c.SilenceErrors, c.SilenceUsage = true, true
	if err := c.Execute(); cmdutil.CodeOf(err) != cmdutil.ExitBadInput || !strings.Contains(err.Error(), "whole line") {
		t.Errorf("appending to a half-written line: exit %d (%v), want 2", cmdutil.CodeOf(err), err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"65536": 65536, "64KiB": 65536, "1MiB": 1 << 20, "10kB": 10000, "0": 0} {
		if got, err := cmdRecord.ParseSize(in); err != nil || got != want {
			t.Errorf("%s = %d, %v", in, got, err)
		}
	}
	if _, err := cmdRecord.ParseSize("-1"); err == nil {
		t.Error("-1 accepted")
	}
}
