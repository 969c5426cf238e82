//go:build unix

package result_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// Everything read is bounded before it is parsed: a device, a FIFO or a
// directory is refused without reading (a FIFO without blocking), and a
// file larger than the bound is refused by its size.
func TestReadRefusesWhatIsNotAResultFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(result.MaxDocumentBytes + 1) // sparse: no disk used
	f.Close()
	for _, tc := range []struct {
		path string
		want error
	}{{"/dev/zero", result.ErrNotAFile}, {fifo, result.ErrNotAFile}, {dir, result.ErrNotAFile}, {big, result.ErrCorrupt}} {
		done := make(chan error, 1)
		go func() { _, err := result.Read(tc.path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: error %v, want %v", tc.path, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read still blocked after 5 s", tc.path)
		}
	}
}
