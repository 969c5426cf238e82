package traffic_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// fullFile is a file on a disk that fills up after room bytes: the write
// that crosses it puts in what fits and fails with ENOSPC, as a real
// write(2) does.
type fullFile struct {
	*os.File
	room int64
}

func (f *fullFile) Write(p []byte) (int, error) {
	if int64(len(p)) <= f.room {
		f.room -= int64(len(p))
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:f.room])
	f.room = 0
	return n, syscall.ENOSPC
}

func req(i int) *traffic.Request {
	return &traffic.Request{Method: "POST", Path: fmt.Sprintf("/v1/predict?n=%d", i), Body: strings.Repeat("x", 100+i%37)}
}

// A disk that fills up mid-recording leaves a file of whole lines, and the
// writer's count is exactly what the file holds: nothing is claimed that
// is not there.
func TestWriterKeepsWholeLinesWhenTheDiskFills(t *testing.T) {
	for _, gz := range []bool{false, true} {
		for _, room := range []int64{0, 1, 150, 4000, 70000} {
			t.Run(fmt.Sprintf("gzip=%v/room=%d", gz, room), func(t *testing.T) {
				name := filepath.Join(t.TempDir(), "t.ndjson")
				if gz {
					name += ".gz"
				}
				f, err := os.Create(name)
				if err != nil {
					t.Fatal(err)
				}
				w := traffic.NewWriter(&fullFile{File: f, room: room}, gz)
				var werr error
				for i := 0; i < 2000 && werr == nil; i++ {
					werr = w.Write(req(i))
					if werr == nil && i%100 == 99 {
						werr = w.Flush()
					}
				}
				if werr == nil {
					werr = w.Close()
				} else {
					w.Close()
				}
				if werr == nil && gz && w.Lines() == 2000 {
					return // it all fit, compressed
				}
				if !errors.Is(werr, syscall.ENOSPC) {
					t.Fatalf("error %v, want ENOSPC", werr)
				}
				n, rerr := count(t, name)
				if rerr != nil && !(n == 0 && w.Lines() == 0) {
					t.Fatalf("file unreadable after a full disk: %v", rerr)
				}
				if int64(n) != w.Lines() {
					t.Fatalf("file holds %d lines, writer claims %d", n, w.Lines())
				}
			})
		}
	}
}

// A compressed recording killed at any byte keeps every line of every
// complete gzip member (one per flush, so all but the last second), and
// the reader says it was cut rather than calling it malformed.
func TestReaderKeepsCompleteLinesOfACutGzipStream(t *testing.T) {
	name := filepath.Join(t.TempDir(), "t.ndjson.gz")
	w, err := traffic.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	var flushedAt []int64 // file size after each flush
	var flushedLines []int64
	for i := 0; i < 50; i++ {
		if err := w.Write(req(i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(name)
			flushedAt = append(flushedAt, fi.Size())
			flushedLines = append(flushedLines, w.Lines())
		}
	}
	w.Close()
	whole, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.ndjson.gz")
	for size := int64(20); size < int64(len(whole)); size += 7 {
		os.WriteFile(cut, whole[:size], 0o644)
		want := int64(0)
		for i, at := range flushedAt {
			if at <= size {
				want = flushedLines[i]
			}
		}
		r, err := traffic.Open(cut)
		if err != nil {
			t.Fatalf("cut at %d: %v", size, err)
		}
		n := int64(0)
		for {
			got, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("cut at %d: line %d: %v", size, n+1, err)
			}
			if got.Path != req(int(n)).Path {
				t.Fatalf("cut at %d: line %d is %s", size, n+1, got.Path)
			}
			n++
		}
		if n < want {
			t.Fatalf("cut at %d bytes: %d lines read, %d were flushed before it", size, n, want)
		}
		if !r.Truncated() {
			t.Fatalf("cut at %d bytes: not reported as truncated", size)
		}
		r.Close()
		if s, err := traffic.InspectFile(cut); err == nil && !s.CutOff {
			t.Fatalf("cut at %d bytes: inspect does not say the file is cut off", size)
		}
	}
	s, err := traffic.InspectFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if s.CutOff || s.Requests != 50 {
		t.Fatalf("the whole file: inspect says cut off %v, %d requests", s.CutOff, s.Requests)
	}
}

func count(t *testing.T, name string) (int, error) {
	t.Helper()
	reqs, err := traffic.ReadAll(name)
	return len(reqs), err
}

func TestCheckAppendable(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.ndjson")
	os.WriteFile(whole, []byte("{\"path\":\"/\"}\n"), 0o644)
	half := filepath.Join(dir, "half.ndjson")
	os.WriteFile(half, []byte("{\"path\":\"/\"}\n{\"pa"), 0o644)
	for name, ok := range map[string]bool{filepath.Join(dir, "none.ndjson"): true, whole: true, half: false} {
		if err := traffic.CheckAppendable(name, false); (err == nil) != ok {
			t.Errorf("%s: %v", name, err)
		}
	}
	notgz := filepath.Join(dir, "x.ndjson.gz")
	os.WriteFile(notgz, []byte("plain\n"), 0o644)
	if err := traffic.CheckAppendable(notgz, true); err == nil {
		t.Error("a .gz that is not gzip passed")
	}
}

// endless is a 100 MB traffic line, generated as it is read.
type endless struct{ left int }

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), e.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	if e.left == 100<<20 {
		copy(p, `{"path":"/`)
	}
	e.left -= n
	return n, nil
}

// A line past MaxLine is refused once MaxLine is read, naming the file
// and line, without holding the rest: a 100 MB line costs about the
// 16 MiB bound (it cost 148 MB before the bound).
func TestOverlongLineRefusedEarly(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rd, err := traffic.NewReader(io.MultiReader(strings.NewReader(`{"path":"/ok"}`+"\n"), &endless{left: 100 << 20}), "big.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = rd.Next()
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "big.ndjson:2:") || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error %v, want big.ndjson:2: line longer than ...", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 100 MB line refused after allocating %d MiB", alloc>>20)
	if alloc > 3*traffic.MaxLine {
		t.Errorf("refusing a 100 MB line allocated %d MiB (bound %d MiB)", alloc>>20, traffic.MaxLine>>20)
	}
}
