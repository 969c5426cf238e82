//go:build !linux

package attack

import (
	"context"
	"time"
)

// sleeper waits on the runtime's timer (see sleep_linux.go for Linux).
type sleeper struct{}

func newSleeper() *sleeper { return &sleeper{} }

func (*sleeper) close() {}

// until sleeps until due or until ctx is done, and reports whether ctx
// ended it.
func (*sleeper) until(ctx context.Context, due time.Time) bool {
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	select {
	case <-t.C:
		return false
	case <-ctx.Done():
		return true
	}
}
