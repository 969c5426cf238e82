package attack

import (
	"context"
	"errors"
	"io"
	"time"
)

// Clock is the time a step is paced and measured by: when each request is
// due, sent and answered, and how long the step ran. The real one reads
// the monotonic clock and sleeps on a timer (a timerfd on a one-core
// machine); a test gives one that jumps to each due time, so that a
// schedule and its accounting are checked without sleeping.
type Clock interface {
	Now() time.Time
	// SleepUntil waits until due or until ctx is done, whichever comes
	// first, and reports whether ctx ended it.
	SleepUntil(ctx context.Context, due time.Time) (interrupted bool)
}

// realClock is the machine's clock, sleeping on the attacker's sleeper.
type realClock struct{ sl *sleeper }

func (realClock) Now() time.Time { return time.Now() }

func (c realClock) SleepUntil(ctx context.Context, due time.Time) bool {
	return c.sl.until(ctx, due)
}

// batcher reads a step's schedule from its feed in the batches the pacer
// wakes for: one request, or with coalescing the requests due less than
// coalesce after the first of a batch, sent together when the last of
// them is due. It never reads past the step's end: the first request due
// at or after it is given back to the feed (Unread) for the next step. It
// reads no clock.
type batcher struct {
	feed          Feed
	end, coalesce time.Duration
	batch         []Item
	// next, when hasNext, is the request read after the last batch,
	// always the last one read from the feed (so Unread gives it back).
	next    Item
	hasNext bool
	// err is the feed's error that ended the schedule: io.EOF at the end
	// of a finite feed.
	err error
}

func newBatcher(feed Feed, end, coalesce time.Duration) *batcher {
	return &batcher{feed: feed, end: end, coalesce: coalesce, batch: make([]Item, 0, 16)}
}

func (b *batcher) read() (Item, bool) {
	if b.hasNext {
		b.hasNext = false
		return b.next, true
	}
	it, err := b.feed.Next()
	if err != nil {
		b.err = err
		return it, false
	}
	return it, true
}

// nextBatch is the next batch, in order of offset; false when the
// schedule is done: the step's end reached, or the feed ended or failed
// (err says which).
func (b *batcher) nextBatch() ([]Item, bool) {
	if b.err != nil && !b.hasNext {
		return nil, false
	}
	first, ok := b.read()
	if !ok {
		return nil, false
	}
	if first.Offset >= b.end {
		if u, ok := b.feed.(interface{ Unread() }); ok {
			u.Unread()
		}
		return nil, false
	}
	b.batch = append(b.batch[:0], first)
	for b.coalesce > 0 && len(b.batch) < cap(b.batch) && b.err == nil {
		it, ok := b.read()
		if !ok {
			break
		}
		if it.Offset >= b.end || it.Offset-first.Offset >= b.coalesce {
			b.next, b.hasNext = it, true
			break
		}
		b.batch = append(b.batch, it)
	}
	return b.batch, true
}

// ended says the feed ran out (a finite schedule) or failed, rather than
// the step reaching its end.
func (b *batcher) ended() bool { return b.err != nil }

// failed is the feed's error, nil for a schedule that reached the step's
// end or the feed's end.
func (b *batcher) failed() error {
	if errors.Is(b.err, io.EOF) {
		return nil
	}
	return b.err
}
