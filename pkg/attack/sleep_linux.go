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
// pacing thousands of requests a second. For short waits the pacer sleeps
// with nanosleep(2) instead, which wakes within tens of microseconds
// (default timer slack, 50 µs).

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
		// With a single P, a goroutine blocked in nanosleep holds the only
		// processor until the runtime takes it back, and the workers that
		// read responses wait: measured, a 0.1 ms server looked like 6 ms.
		// There, and for long waits, use the runtime's timer instead.
		if d > 3*time.Millisecond || runtime.GOMAXPROCS(0) < 2 {
			wait := d - 2*time.Millisecond
			if runtime.GOMAXPROCS(0) < 2 {
				wait = d
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return true
			}
			continue
		}
		// No runtime.Gosched() before blocking: it sends the pacer to the
		// global run queue behind every goroutine handling a response, and
		// measured, it tripled the send lag's p99. An idle P steals the
		// worker just handed a request.
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil)
	}
}
