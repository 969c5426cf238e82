package cmd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/sandbox"
	"github.com/bestbefore/bestbefore/internal/testserver"
)

// A full disk, on a small tmpfs in the sandbox's own mount namespace.
// Before the run: no room for the result is exit 3 with nothing sent (an
// empty file would still fit, so the check writes real bytes). During the
// run: the summary still reaches stdout, stderr says what could not be
// written, and no result.json or report of an earlier run is left to pass
// for this one's.
func TestFullDisk(t *testing.T) {
	if !sandbox.Enter(t) {
		return
	}
	srv := testserver.NewSlots(16, time.Millisecond)
	ts := testserver.Start(t, srv)
	files := writeFiles(t, map[string]string{
		"s.yaml":   fmt.Sprintf("name: disk\ntarget: {url: %s}\ntraffic: {file: t.ndjson}\nload: {start_qps: 20, step_qps: 20, max_qps: 40, step_duration: 1s, warmup: 0s}\nmonitor: {max_send_lag: 200ms}\n", ts.URL),
		"t.ndjson": `{"path":"/p"}` + "\n",
	})
	scenario := filepath.Join(files, "s.yaml")

	t.Run("full before the run", func(t *testing.T) {
		disk := t.TempDir()
		sandbox.Tmpfs(t, disk, 256<<10)
		code, _, stderr := execute(t, context.Background(), "run", scenario, "--out", filepath.Join(disk, "out"), "--quiet")
		if code != 3 || !strings.Contains(stderr, "no room for the result") || !strings.Contains(stderr, "no space left") {
			t.Errorf("exit %d (want 3), stderr %q", code, stderr)
		}
		if n := srv.Served.Load(); n != 0 {
			t.Errorf("%d requests sent to a run that could not keep its result", n)
		}
	})

	t.Run("full during the run", func(t *testing.T) {
		disk := t.TempDir()
		sandbox.Tmpfs(t, disk, 4<<20)
		out := filepath.Join(disk, "out")
		os.MkdirAll(out, 0o755)
		stale := []string{"result.json", "report.md", "report.html"}
		for _, n := range stale {
			os.WriteFile(filepath.Join(out, n), []byte("from an earlier run\n"), 0o644)
		}
		filled := make(chan error, 1)
		go func() {
			// Once requests flow, the run has checked its room: fill the disk.
			deadline := time.Now().Add(30 * time.Second)
			for srv.Served.Load() == 0 {
				if time.Now().After(deadline) {
					filled <- errors.New("no request was sent within 30 s")
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			f, err := os.Create(filepath.Join(disk, "filler"))
			if err != nil {
				filled <- err
				return
			}
			defer f.Close()
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					if errors.Is(err, syscall.ENOSPC) {
						err = nil
					}
					filled <- err
					return
				}
			}
		}()
		// --force: the directory holds an earlier run's result, replaced.
		code, stdout, stderr := execute(t, context.Background(), "run", scenario, "--out", out, "--quiet", "--force")
		if err := <-filled; err != nil {
			t.Fatal(err)
		}
		if code != 3 || !strings.Contains(stderr, "result.json") || !strings.Contains(stderr, "no space left") {
			t.Errorf("exit %d (want 3), stderr %q", code, stderr)
		}
		if !strings.Contains(stdout, "Best-before  40 QPS") || !strings.Contains(stdout, "2 steps") {
			t.Errorf("the summary did not reach stdout:\n%s", stdout)
		}
		if strings.Contains(stdout, "Written:") {
			t.Errorf("the summary lists files that were not written:\n%s", stdout)
		}
		for _, n := range stale {
			if _, err := os.Stat(filepath.Join(out, n)); err == nil {
				t.Errorf("%s of an earlier run is still there, passing for this run's", n)
			}
		}
	})
}
