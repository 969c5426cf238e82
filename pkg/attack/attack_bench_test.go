package attack_test

import (
	"context"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// nopDoer answers at once: what is left is the sender's own cost.
type nopDoer struct{}

func (nopDoer) Do(p *attack.Prepared, deadline time.Time, keepBody bool, resp *attack.Response) error {
	resp.Status = 200
	return nil
}

// dueFeed yields n requests spaced gap apart.
type dueFeed struct {
	n, i int
	gap  time.Duration
	req  []*attack.Prepared
}

func (f *dueFeed) Next() (attack.Item, error) {
	if f.i == f.n {
		return attack.Item{Offset: time.Hour}, nil
	}
	f.i++
	return attack.Item{Offset: time.Duration(f.i) * f.gap, Req: f.req}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSenderHotPath is the cost per request of pacing, dispatching to
// a worker, stamping the times, classifying and recording, without network,
// at 50k requests a second. cpu-ns/op is the process's CPU time per request.
func BenchmarkSenderHotPath(b *testing.B) {
	const gap = 20 * time.Microsecond
	u, _ := url.Parse("http://127.0.0.1:1")
	p := mustPrepare(b, &traffic.Request{Path: "/"}, u)
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: nopDoer{}}}, MaxInFlight: 10000})
	defer a.Close()
	// Warm the workers and the histograms' pages.
	// A step lasts its duration: each ends just after its last request.
	a.Step(context.Background(), &dueFeed{n: 1000, gap: gap, req: []*attack.Prepared{p}}, attack.StepSpec{Rate: 1, Duration: 1001 * gap, Interval: time.Minute})
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	st, err := a.Step(context.Background(), &dueFeed{n: b.N, gap: gap, req: []*attack.Prepared{p}}, attack.StepSpec{Rate: 1, Duration: time.Duration(b.N+1) * gap, Interval: time.Hour})
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if st.Requests != int64(b.N) {
		b.Fatalf("measured %d of %d", st.Requests, b.N)
	}
	b.ReportMetric(float64(st.ByClass["dropped"])/float64(b.N), "dropped/op")
}

// BenchmarkRecord is the cost of recording one latency: it must not allocate.
func BenchmarkRecord(b *testing.B) {
	r := stats.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(time.Duration(i%100000) * time.Microsecond)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := stats.NewRecorder()
	if n := testing.AllocsPerRun(1000, func() { r.Record(1234 * time.Microsecond) }); n != 0 {
		t.Errorf("Record allocates %.1f times per call, want 0", n)
	}
}
