package attack_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// stampDoer records when each request reached it.
type stampDoer struct {
	mu sync.Mutex
	at map[*attack.Prepared]time.Time
}

func (d *stampDoer) Do(p *attack.Prepared, deadline time.Time, keepBody bool, resp *attack.Response) error {
	now := time.Now()
	d.mu.Lock()
	d.at[p] = now
	d.mu.Unlock()
	resp.Status = 200
	return nil
}

// listFeed yields one distinct request per offset.
type listFeed struct {
	offsets []time.Duration
	reqs    []*attack.Prepared
	i       int
}

func (f *listFeed) Next() (attack.Item, error) {
	if f.i == len(f.offsets) {
		return attack.Item{Offset: time.Hour}, nil
	}
	f.i++
	return attack.Item{Offset: f.offsets[f.i-1], Req: []*attack.Prepared{f.reqs[f.i-1]}}, nil
}

func runStamped(t *testing.T, coalesce time.Duration, offsets []time.Duration) (start time.Time, sent []time.Time) {
	t.Helper()
	u, _ := url.Parse("http://127.0.0.1:1")
	d := &stampDoer{at: map[*attack.Prepared]time.Time{}}
	feed := &listFeed{offsets: offsets}
	for range offsets {
		feed.reqs = append(feed.reqs, mustPrepare(t, &traffic.Request{Path: "/"}, u))
	}
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}, Coalesce: coalesce})
	defer a.Close()
	last := offsets[len(offsets)-1]
	st, err := a.Step(context.Background(), feed, attack.StepSpec{Rate: 1, Duration: last + 50*time.Millisecond, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != int64(len(offsets)) || st.Successes != st.Requests {
		t.Fatalf("%d requests, %d successes, want %d", st.Requests, st.Successes, len(offsets))
	}
	for _, p := range feed.reqs {
		at, ok := d.at[p]
		if !ok {
			t.Fatal("a request was never sent")
		}
		sent = append(sent, at)
	}
	return st.Start, sent
}

// Requests due within the coalescing window of the first of them go out
// together, when the last of them is due; none is ever sent early.
func TestCoalescedSendsWaitForTheLastDue(t *testing.T) {
	var offsets []time.Duration
	for i := 1; i <= 30; i++ { // 200 µs apart: 5,000 a second
		offsets = append(offsets, time.Duration(i)*200*time.Microsecond)
	}
	start, sent := runStamped(t, 500*time.Microsecond, offsets)
	for i, at := range sent {
		due := start.Add(offsets[i])
		if at.Before(due) {
			t.Fatalf("request %d sent %v before it was due", i, due.Sub(at))
		}
	}
	// Batches: {200, 400, 600}, {800, 1000, 1200}, ... µs: the first of
	// each waits for the third.
	for i := 0; i+2 < len(offsets); i += 3 {
		if lastDue := start.Add(offsets[i+2]); sent[i].Before(lastDue) {
			t.Errorf("request %d went out %v before the last request of its window was due", i, lastDue.Sub(sent[i]))
		}
	}
}

// Without coalescing, or when the gap between requests is as long as the
// window, each request goes out on its own: well before the next one is
// due, with 5 ms between them.
func TestUncoalescedSendsAreOnTime(t *testing.T) {
	for _, w := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(w.String(), func(t *testing.T) { checkOnTime(t, w) })
	}
}

func checkOnTime(t *testing.T, coalesce time.Duration) {
	var offsets []time.Duration
	for i := 1; i <= 20; i++ {
		offsets = append(offsets, time.Duration(i)*5*time.Millisecond)
	}
	start, sent := runStamped(t, coalesce, offsets)
	onTime := 0
	for i, at := range sent {
		due := start.Add(offsets[i])
		if at.Before(due) {
			t.Fatalf("request %d sent %v before it was due", i, due.Sub(at))
		}
		if at.Before(due.Add(5 * time.Millisecond)) {
			onTime++
		}
	}
	// A noisy machine may delay a few wake-ups by a gap; most are on time.
	if onTime < len(sent)*3/4 {
		t.Errorf("only %d of %d requests went out before the next one was due", onTime, len(sent))
	}
}

func TestCoalesceFor(t *testing.T) {
	for lag, want := range map[time.Duration]time.Duration{
		time.Millisecond: 500 * time.Microsecond, 400 * time.Microsecond: 200 * time.Microsecond,
		time.Minute: attack.MaxCoalesce, 0: 0,
	} {
		if got := attack.CoalesceFor(lag); got != want {
			t.Errorf("CoalesceFor(%v) = %v, want %v", lag, got, want)
		}
	}
}

// A step lasts its duration: at 1 QPS over 1.5 s the last request goes
// at 1 s, and the step still ends at 1.5 s, not at its last send.
// Three such steps in a row take 4.5 s, not 3.
func TestStepLastsItsDuration(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: nopDoer{}}}})
	defer a.Close()
	const dur = 1500 * time.Millisecond
	start := time.Now()
	for i := 0; i < 3; i++ {
		feed := &listFeed{offsets: []time.Duration{0, time.Second}}
		for range feed.offsets {
			feed.reqs = append(feed.reqs, mustPrepare(t, &traffic.Request{Path: "/"}, u))
		}
		st, err := a.Step(context.Background(), feed, attack.StepSpec{Rate: 1, Duration: dur, Interval: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if st.Wall < dur {
			t.Fatalf("step %d ended after %v, before its %v", i, st.Wall, dur)
		}
	}
	if took := time.Since(start); took < 3*dur {
		t.Fatalf("three %v steps took %v", dur, took)
	}
}

// A response whose header passes the bound is an error of its own class,
// header_too_large, not a success.
func TestHeaderTooLargeIsItsOwnClass(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					req.Body.Close()
					c.SetWriteDeadline(time.Now().Add(5 * time.Second))
					c.Write([]byte("HTTP/1.1 200 OK\r\n" + strings.Repeat("X-S: 1\r\n", 2000) + "Content-Length: 0\r\n\r\n"))
				}
			}()
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	d, err := attack.NewH1Doer(u.String(), h1.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}})
	defer a.Close()
	feed := &listFeed{offsets: []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}}
	for range feed.offsets {
		feed.reqs = append(feed.reqs, mustPrepare(t, &traffic.Request{Path: "/"}, u))
	}
	st, err := a.Step(context.Background(), feed, attack.StepSpec{Rate: 100, Duration: 100 * time.Millisecond, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st.Successes != 0 || st.ByClass["header_too_large"] != 3 {
		t.Errorf("%d successes, classes %v; want 3 header_too_large", st.Successes, st.ByClass)
	}
}
