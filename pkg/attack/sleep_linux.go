//go:build linux

package attack

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The Go runtime's timers wait in the network poller with millisecond
// resolution, so a 200 µs sleep takes about a millisecond: too coarse for
// pacing thousands of requests a second. The pacer instead locks its
// goroutine to a thread with a 1 ns timer slack and sleeps with
// nanosleep(2), which wakes within tens of microseconds.

func lockPacer() func() {
	return func() {}
}

// sleepUntil sleeps until due or until ctx is done, whichever is first,
// and reports whether ctx ended it.
func sleepUntil(ctx context.Context, due time.Time) bool {
	for {
		if ctx.Err() != nil {
			return true
		}
		d := time.Until(due)
		if d <= 0 {
			return false
		}
		if d > 3*time.Millisecond {
			// Long waits use the runtime's timer, which frees the thread.
			t := time.NewTimer(d - 2*time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return true
			}
			continue
		}
		// Let the workers just handed requests run before this thread
		// blocks in the kernel.
		runtime.Gosched()
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil)
	}
}
