//go:build unix

package testserver

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Serialize makes the test wait until no other capacity-measuring test,
// in this package or any other, is running, and hold the machine's load
// tests to itself until it ends. go test ./... runs packages in parallel
// processes; two ramps sharing a 2-core machine measure each other, and a
// verdict that compares a best-before with a capacity needs the capacity
// measured in the conditions the ramp had. The lock is a file lock, so it
// is released even if the test process dies.
func Serialize(t testing.TB) {
	t.Helper()
	p := filepath.Join(os.TempDir(), "bestbefore-load-tests.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("serialize load tests: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("serialize load tests: %v", err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
