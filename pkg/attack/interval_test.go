package attack_test

import (
	"context"
	"math"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// slowDoer answers after a fixed delay, so results for an interval keep
// arriving after the pacer has moved on to later ones.
type slowDoer struct{ d time.Duration }

func (s slowDoer) Do(p *attack.Prepared, deadline time.Time, keepBody bool, resp *attack.Response) error {
	time.Sleep(s.d)
	resp.Status = 200
	return nil
}

// A step of 2,000 one-millisecond intervals: every interval's histogram
// holds exactly its own requests, late results included, and the memory
// the step's figures keep does not grow with the number of intervals (a
// live histogram is 136 KB; one per interval would be 270 MB).
func TestIntervalsCompleteAndBounded(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	p := mustPrepare(t, &traffic.Request{Path: "/"}, u)
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: slowDoer{5 * time.Millisecond}}}})
	defer a.Close()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	st, err := a.Step(context.Background(), &dueFeed{n: 4000, gap: 500 * time.Microsecond, req: []*attack.Prepared{p}},
		attack.StepSpec{Rate: 2000, Duration: 2*time.Second + time.Millisecond, Interval: time.Millisecond})
	runtime.GC()
	runtime.ReadMemStats(&m1) // what the step's figures keep alive
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Intervals) < 2000 {
		t.Fatalf("%d intervals", len(st.Intervals))
	}
	var total int64
	for i, iv := range st.Intervals {
		h, err := stats.Decode(iv.Histogram)
		if err != nil {
			t.Fatalf("interval %d: %v", i, err)
		}
		if h.TotalCount() != iv.Requests-iv.Errors {
			t.Fatalf("interval %d holds %d latencies for %d requests (%d errors)", i, h.TotalCount(), iv.Requests, iv.Errors)
		}
		total += h.TotalCount()
	}
	if total != st.Latency.TotalCount() || total < 3900 {
		t.Errorf("intervals hold %d latencies, the step %d", total, st.Latency.TotalCount())
	}
	if held := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / (1 << 20); held > 30 {
		t.Errorf("the step's figures hold %.0f MB for %d intervals", held, len(st.Intervals))
	} else {
		t.Logf("the step's figures hold %.1f MB for %d intervals", held, len(st.Intervals))
	}
	runtime.KeepAlive(st)
}

// mustPrepare serializes req for u or fails the test.
func mustPrepare(t testing.TB, req *traffic.Request, u *url.URL) *attack.Prepared {
	t.Helper()
	p, err := attack.Prepare(req, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Each interval says how many requests were in flight at its sends and
// how late its latest send was: at 200 QPS against a 50 ms service about
// ten are in flight (Little's law), and the intervals' longest send lag
// is the step's.
func TestIntervalsInFlightAndSendLag(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	p := mustPrepare(t, &traffic.Request{Path: "/"}, u)
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: slowDoer{50 * time.Millisecond}}}})
	defer a.Close()
	st, err := a.Step(context.Background(), &dueFeed{n: 400, gap: 5 * time.Millisecond, req: []*attack.Prepared{p}},
		attack.StepSpec{Rate: 200, Duration: 2 * time.Second, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Intervals) != 2 {
		t.Fatalf("%d intervals, want 2", len(st.Intervals))
	}
	var lag time.Duration
	for i, iv := range st.Intervals {
		// A busy machine stretches the 50 ms sleep: more in flight, not fewer.
		if iv.InFlightMean < 7 || iv.InFlightMean > 40 {
			t.Errorf("interval %d: %.1f in flight on average, want about 10", i, iv.InFlightMean)
		}
		lag = max(lag, iv.SendLagMax)
	}
	// The step's histogram holds the lag to three significant digits.
	if want := time.Duration(st.SendLag.Max()) * time.Microsecond; math.Abs(float64(lag-want)) > float64(want)/100+float64(time.Microsecond) {
		t.Errorf("the intervals' longest send lag is %v, the step's %v", lag, want)
	}
}
