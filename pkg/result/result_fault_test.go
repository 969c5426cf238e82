package result_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

func sampleResult(steps int) *result.Result {
	r := &result.Result{Schema: result.SchemaV1, Name: "fault", Status: result.StatusCompleted,
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Steps: []result.Step{},
		Manifest: result.Manifest{Tool: "bestbefore", CPUs: 2}, BestBefore: result.BestBefore{Step: -1}}
	for i := 0; i < steps; i++ {
		h := stats.New()
		for v := int64(1); v <= 2000; v++ {
			_ = h.RecordValue(v * 997 % 500_000)
		}
		enc, _ := stats.Encode(h)
		r.Steps = append(r.Steps, result.Step{Index: i, Phase: result.PhaseRamp, OfferedQPS: float64(100 * (i + 1)),
			Requests: h.TotalCount(), Successes: h.TotalCount(), Histogram: enc})
	}
	return r
}

// leftovers lists the temporary files a write left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

// A disk that fills up while result.json is rewritten: the write fails
// with ENOSPC, the previous result.json is untouched, and no temporary
// file is left. Needs root to mount a tiny tmpfs.
func TestFaultWriteDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs to fill up needs root; TestFaultWriteRenameFails covers the temp+rename logic")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })

	path := filepath.Join(dir, "result.json")
	if err := result.Write(path, sampleResult(1)); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	// Fill the file system.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	f.Close()

	err = result.Write(path, sampleResult(20))
	if err == nil {
		t.Fatal("writing to a full disk succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want ENOSPC naming %s", err, path)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Errorf("the previous result.json changed: %d bytes, was %d", len(now), len(old))
	}
	if _, err := result.Read(path); err != nil {
		t.Errorf("the previous result.json no longer reads: %v", err)
	}
	if tmp := leftovers(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left on the full disk: %v", tmp)
	}
	// Space again: the write goes through.
	os.Remove(filler)
	if err := result.Write(path, sampleResult(20)); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	r, err := result.Read(path)
	if err != nil || len(r.Steps) != 20 {
		t.Fatalf("read back: %v", err)
	}
}

// The final rename fails (here: a directory is in the way): an error
// naming the path, the thing in the way untouched, no temporary left.
func TestFaultWriteRenameFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.json")
	if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := result.Write(path, sampleResult(3))
	if err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	if fi, err := os.Stat(filepath.Join(path, "keep")); err != nil || !fi.IsDir() {
		t.Errorf("what was in the way changed: %v", err)
	}
	if tmp := leftovers(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// Rewriting an existing result replaces it whole; a reader never sees a
// truncated document, however often it looks during the rewrites.
func TestFaultRewriteNeverTorn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.json")
	if err := result.Write(path, sampleResult(1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	torn := make(chan string, 1)
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			if _, err := result.Read(path); err != nil {
				select {
				case torn <- err.Error():
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		if err := result.Write(path, sampleResult(1+i%7)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	select {
	case e := <-torn:
		t.Errorf("a reader saw a torn result.json: %s", e)
	default:
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("result.json mode %v, want 0644", fi.Mode().Perm())
	}
}
