package attack_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// jumpClock never sleeps: waiting for a due time jumps to it, once the
// requests sent before have been answered (each reads the clock when it
// is sent and when it is answered, after the step read its start), so
// that an instant answer takes no time on it. What it was asked to wait
// for is the pacer's schedule.
type jumpClock struct {
	mu    sync.Mutex
	now   time.Time
	reads int
	waits []time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.now
}

func (c *jumpClock) SleepUntil(ctx context.Context, due time.Time) bool {
	c.mu.Lock()
	sent := len(c.waits) // one request dispatched after each earlier wait
	c.waits = append(c.waits, due)
	c.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Microsecond) {
		c.mu.Lock()
		answered := c.reads >= 1+2*sent
		c.mu.Unlock()
		if answered {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if due.After(c.now) {
		c.now = due
	}
	return ctx.Err() != nil
}

// instantDoer answers 200 at once.
type instantDoer struct{}

func (instantDoer) Do(*attack.Prepared, time.Time, bool, *attack.Response) error { return nil }

// arrivalFeed yields an arrival process's schedule, one request each.
type arrivalFeed struct {
	arr attack.Item
	a   pace.Arrivals
	at  time.Duration
}

func (f *arrivalFeed) Next() (attack.Item, error) {
	f.at += f.a.Next()
	return attack.Item{Offset: f.at, Req: f.arr.Req}, nil
}

// The pacer waits for exactly the schedule it is fed, in order and
// nothing else, then for the step's end; the step counts every request
// in the window and measures it from its intended time: checked for
// every arrival process on an injected clock, without sleeping.
func TestStepWaitsForItsScheduleOnAnInjectedClock(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	p := mustPrepare(t, &traffic.Request{Path: "/"}, u)
	for _, process := range pace.Processes {
		for _, rate := range []float64{7, 250, 1500} {
			clock := &jumpClock{now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
			start := clock.now
			a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: instantDoer{}}}, Clock: clock, MaxInFlight: 1 << 20})
			spec := attack.StepSpec{Rate: rate, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Interval: 500 * time.Millisecond}
			var want []time.Time
			var inWindow int64
			replay := pace.New(process, rate, pace.StepSeed(1, 3), burstiness(process))
			for at := replay.Next(); at < spec.Duration; at += replay.Next() {
				want = append(want, start.Add(at))
				if at >= spec.Warmup {
					inWindow++
				}
			}
			st, err := a.Step(context.Background(), &arrivalFeed{arr: attack.Item{Req: []*attack.Prepared{p}}, a: pace.New(process, rate, pace.StepSeed(1, 3), burstiness(process))}, spec)
			a.Close()
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, start.Add(spec.Duration))
			if !slices.Equal(clock.waits, want) {
				t.Errorf("%s at %v QPS: the pacer waited for %d times, want the %d of the schedule and the step's end", process, rate, len(clock.waits), len(want))
				continue
			}
			if st.Requests != inWindow || st.Successes != inWindow {
				t.Errorf("%s at %v QPS: %d requests, %d successes in the window, want the %d scheduled there", process, rate, st.Requests, st.Successes, inWindow)
			}
			if st.Wall != spec.Duration || st.Latency.Max() > stats.MinValue || st.SendLag.Max() > stats.MinValue {
				t.Errorf("%s at %v QPS: wall %v, latency max %dµs, send lag max %dµs; want the step's 2s and nothing late (the histogram's floor, 1µs) on a clock that waits exactly", process, rate, st.Wall, st.Latency.Max(), st.SendLag.Max())
			}
		}
	}
}

func burstiness(process string) float64 {
	if process == pace.ProcessBursty {
		return 0.5
	}
	return 0
}
