package attack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/teststream"
	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// streamStep runs one step of n requests, gap apart, against url
// through the client of protocol.
func streamStep(t *testing.T, rawURL, protocol, mode string, n int, gap time.Duration) *attack.StepStats {
	t.Helper()
	u, _ := url.Parse(rawURL)
	d, err := attack.NewDoer(u, attack.DoerOptions{Protocol: protocol})
	if err != nil {
		t.Fatal(err)
	}
	p := mustPrepare(t, &traffic.Request{Method: "POST", Path: "/v1/completions", Body: `{"stream":true}`}, u)
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}, Timeout: 5 * time.Second, Stream: mode})
	defer a.Close()
	st, err := a.Step(context.Background(), &dueFeed{n: n, gap: gap, req: []*attack.Prepared{p}},
		attack.StepSpec{Rate: float64(time.Second / gap), Duration: time.Duration(n+1) * gap})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The truth server, in a process of its own, streams its first event
// 30 ms after each request arrives and then one every 10 ms, and says
// when it actually wrote each. The time to first token and the gaps
// between tokens a step reports are those, over HTTP/1.1 and HTTP/2
// (h2c), as server-sent events and as newline-delimited JSON.
//
//   - Always: token counts exact; the p50s within 3 ms of the schedule
//     (a loaded machine delays the client), none below it by more than
//     1 ms; the ITL p99 within 1.5 ms of what the server sent.
//   - On a try where neither process was kept from running (the server
//     wrote on time, its own p99 within 0.5 ms of the schedule, and the
//     generator's stall probe saw nothing past its 1.2 ms floor at the
//     p99): the p50s within 1 ms of the schedule, the p99s of the gaps
//     within 1 ms of what the server wrote at its p99, of the time to
//     first token within 1.5 ms. A time to first
//     token also holds the request's trip to the server, which the
//     server cannot time and no probe watches (0.3 ms at the p50 here,
//     up to 1.2 ms at the p99 under go test ./..., the other packages'
//     tests sharing the cores). A shared machine spoils some tries: up
//     to five are made; the bounds must hold on a clean one, and a run
//     where none was clean says so.
//   - Over HTTP/2 the bounds are 1.5 ms (p50) and 2.5 ms (p99):
//     net/http's HTTP/2 client, whose frames are read by one goroutine
//     and handed to the body's reader by another, adds about 0.6 ms at
//     the p50 and 2 ms at the p99 (TTFT p50 31.1 ms against 30.5 ms over
//     HTTP/1.1, p99 32.7 ms against 31.2 ms, the server writing at 30.2
//     and 30.4 ms).
func TestStreamTimesMatchTheSchedule(t *testing.T) {
	const first, every, events = 30 * time.Millisecond, 10 * time.Millisecond, 20
	for _, c := range []struct {
		name, protocol, mode string
		ndjson, usage        bool
		tol50, tol99         time.Duration
	}{
		{"sse over HTTP/1.1", "", attack.StreamAuto, false, true, time.Millisecond, 3 * time.Millisecond / 2},
		{"sse over HTTP/2", h1.ProtocolH2C, attack.StreamAuto, false, false, 3 * time.Millisecond / 2, 5 * time.Millisecond / 2},
		{"ndjson over HTTP/1.1", "", attack.StreamNDJSON, true, false, time.Millisecond, 3 * time.Millisecond / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			held, cleanTries := false, 0
			var missed []string
			for try := 1; try <= 5 && !held; try++ {
				srv := teststream.StartChild(t, teststream.Schedule{First: first, Every: every, Events: events, Usage: c.usage, NDJSON: c.ndjson})
				st := streamStep(t, srv.URL, c.protocol, c.mode, 100, 20*time.Millisecond)
				s := st.Stream
				if s == nil || st.Successes != 100 || s.Responses != 100 {
					t.Fatalf("%d successes, stream %+v (errors %v)", st.Successes, s, st.Errors)
				}
				if s.Tokens != 100*events || (s.UsageResponses == 100) != c.usage {
					t.Errorf("%d tokens, %d from usage; want %d, usage %v", s.Tokens, s.UsageResponses, 100*events, c.usage)
				}
				if s.ITL.TotalCount() != 100*(events-1) {
					t.Errorf("%d gaps, want %d", s.ITL.TotalCount(), 100*(events-1))
				}
				sent := srv.Sent(t)
				stall := time.Duration(st.Stall.ValueAtQuantile(99)) * time.Microsecond
				clean := sent.FirstP99 <= first+time.Millisecond/2 && sent.GapsP99 <= every+time.Millisecond/2 && stall <= 1200*time.Microsecond
				t.Logf("try %d: server sent first p50/p99 %v/%v, gaps %v/%v; generator stall p99 %v; clean %v", try, sent.FirstP50, sent.FirstP99, sent.GapsP50, sent.GapsP99, stall, clean)
				held = clean
				if clean {
					cleanTries++
				}
				for _, m := range []struct {
					what        string
					h           *hdrLike
					sched, sent time.Duration
					tol99       time.Duration
				}{
					{"TTFT", &hdrLike{s.TTFT}, first, sent.FirstP99, c.tol99},
					{"TTFT from send", &hdrLike{s.TTFTSent}, first, sent.FirstP99, c.tol99},
					{"ITL", &hdrLike{s.ITL}, every, sent.GapsP99, min(c.tol99, time.Millisecond) + max(0, c.tol99-3*time.Millisecond/2)},
					{"TPOT", &hdrLike{s.TPOT}, every, sent.GapsP50, c.tol99},
				} {
					p50, p99 := m.h.at(50), m.h.at(99)
					t.Logf("  %s p50 %v, p99 %v (scheduled %v)", m.what, p50, p99, m.sched)
					if p50 < m.sched-time.Millisecond || p50 > m.sched+3*time.Millisecond || p99 < m.sched-time.Millisecond {
						t.Errorf("%s p50 %v, p99 %v: scheduled %v", m.what, p50, p99, m.sched)
					}
					if clean && (p50 > m.sched+c.tol50 || p99 > m.sent+m.tol99) {
						held = false
						missed = append(missed, fmt.Sprintf("try %d: %s p50 %v (scheduled %v, bound %v), p99 %v (the server wrote at %v, bound %v)", try, m.what, p50, m.sched, c.tol50, p99, m.sent, m.tol99))
					}
				}
				if got := (&hdrLike{s.ITL}).at(99); got > sent.GapsP99+3*time.Millisecond/2 {
					t.Errorf("ITL p99 %v, the server sent its gaps at %v", got, sent.GapsP99)
				}
			}
			switch {
			case held:
			case cleanTries > 0:
				t.Errorf("on none of %d clean tries did the p99s hold:\n%s", cleanTries, strings.Join(missed, "\n"))
			default:
				t.Logf("no clean try in five: the p99s were held only to what the server sent")
			}
		})
	}
}

type hdrLike struct {
	h interface{ ValueAtQuantile(float64) int64 }
}

func (h *hdrLike) at(q float64) time.Duration {
	return time.Duration(h.h.ValueAtQuantile(q)) * time.Microsecond
}

// genChildEnv makes the test binary a generator of its own (genChild).
const genChildEnv = "BESTBEFORE_STREAM_GENERATOR"

// genChild runs a fixed-rate step against the URL in genChildEnv and
// prints its time to first token p99 from the intended and from the
// actual send, as JSON: the generator a test can stop and continue.
func genChild() bool {
	u := os.Getenv(genChildEnv)
	if u == "" {
		return false
	}
	st := streamStep(&testing.T{}, u, "", attack.StreamAuto, 400, 10*time.Millisecond)
	if st.Stream == nil {
		fmt.Println(`{"error":"no stream"}`)
		return true
	}
	q := func(h interface{ ValueAtQuantile(float64) int64 }, p float64) int64 { return h.ValueAtQuantile(p) }
	json.NewEncoder(os.Stdout).Encode(map[string]int64{
		"responses": st.Stream.Responses, "ttft_p50_us": q(st.Stream.TTFT, 50), "ttft_p99_us": q(st.Stream.TTFT, 99),
		"sent_p50_us": q(st.Stream.TTFTSent, 50), "sent_p99_us": q(st.Stream.TTFTSent, 99), "ttft_max_us": st.Stream.TTFT.Max(),
	})
	return true
}

// The coordinated-omission test for streams: the generator's process is
// stopped for 1 s (SIGSTOP, as a long pause of the machine or the
// runtime would), 1.5 s into a 4 s step of 100 requests/s against a
// server whose first event comes at 5 ms. The requests due during the
// pause are sent late, all at once: time to first token from the
// intended send shows the pause at the p99 (a quarter of the requests
// waited up to a second), while the same figure from the actual send,
// what a client that times from its own send reports, does not (only
// the one request or so awaiting its first event when the pause began
// holds it, under 1%).
func TestStreamStallShowsFromTheIntendedSend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SIGSTOP")
	}
	srv := testserverStream(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), genChildEnv+"="+srv)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, out.String())
	}
	var m map[string]int64
	if err := json.Unmarshal([]byte(out.String()), &m); err != nil {
		t.Fatalf("generator said %q: %v", out.String(), err)
	}
	ms := func(k string) time.Duration { return time.Duration(m[k]) * time.Microsecond }
	t.Logf("%d responses; TTFT from the intended send p50 %v, p99 %v, max %v; from the actual send p50 %v, p99 %v",
		m["responses"], ms("ttft_p50_us"), ms("ttft_p99_us"), ms("ttft_max_us"), ms("sent_p50_us"), ms("sent_p99_us"))
	if m["responses"] != 400 {
		t.Errorf("%d responses, want 400", m["responses"])
	}
	if p := ms("ttft_p99_us"); p < 800*time.Millisecond {
		t.Errorf("TTFT p99 from the intended send %v: the 1 s pause does not show", p)
	}
	if p := ms("sent_p99_us"); p > 100*time.Millisecond {
		t.Errorf("TTFT p99 from the actual send %v: the pause shows where it should not", p)
	}
}

// testserverStream serves the 5 ms + 5 ms × 10 schedule in this process.
func testserverStream(t *testing.T) string {
	ts := httptest.NewServer(teststream.Schedule{First: 5 * time.Millisecond, Every: 5 * time.Millisecond, Events: 10, Usage: true})
	t.Cleanup(ts.Close)
	return ts.URL
}

// Goodput counts the requests due in the window that met every
// per-request bound set: a first token at 30 ms and 10 ms a token after
// it meet 100 ms and 15 ms, not 20 ms or 5 ms; a response that did not
// stream has its whole answer as its first token.
func TestGoodputCountsRequestsMeetingEveryBound(t *testing.T) {
	srv := httptest.NewServer(teststream.Schedule{First: 30 * time.Millisecond, Every: 10 * time.Millisecond, Events: 5})
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(plain.Close)
	for _, c := range []struct {
		url  string
		good attack.RequestObjectives
		want int64
	}{
		{srv.URL, attack.RequestObjectives{TTFT: 100 * time.Millisecond, TPOT: 15 * time.Millisecond}, 20},
		{srv.URL, attack.RequestObjectives{TTFT: 20 * time.Millisecond}, 0},
		{srv.URL, attack.RequestObjectives{TPOT: 5 * time.Millisecond}, 0},
		{srv.URL, attack.RequestObjectives{Latency: 500 * time.Millisecond}, 20},
		{plain.URL, attack.RequestObjectives{TTFT: 20 * time.Millisecond}, 0},
		{plain.URL, attack.RequestObjectives{TTFT: 100 * time.Millisecond, TPOT: time.Microsecond}, 20},
	} {
		u, _ := url.Parse(c.url)
		d, err := attack.NewDoer(u, attack.DoerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := mustPrepare(t, &traffic.Request{Path: "/"}, u)
		a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}, Timeout: 5 * time.Second, Good: c.good})
		st, err := a.Step(context.Background(), &dueFeed{n: 20, gap: 20 * time.Millisecond, req: []*attack.Prepared{p}}, attack.StepSpec{Rate: 50, Duration: 21 * 20 * time.Millisecond})
		a.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !st.GoodCounted || st.Good != c.want || st.Successes != 20 {
			t.Errorf("%s with %+v: %d good of %d successes (counted %v), want %d", c.url, c.good, st.Good, st.Successes, st.GoodCounted, c.want)
		}
	}
}

// A stream bounded three ways: one that never ends and one that never
// sends an event are stream_timeout at the request timeout, their own
// class; an event over MaxEventBytes is response_too_large, read past
// without being held.
func TestStreamBounds(t *testing.T) {
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	huge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: " + strings.Repeat("x", attack.MaxEventBytes+1) + "\n\ndata: {\"choices\":[{\"text\":\"a\"}]}\n\n"))
	})
	for _, c := range []struct {
		name  string
		h     http.Handler
		class string
	}{
		{"endless", teststream.Schedule{First: time.Millisecond, Every: 50 * time.Millisecond, Events: 1000}, "stream_timeout"},
		{"silent", silent, "stream_timeout"},
		{"huge event", huge, "response_too_large"},
	} {
		srv := httptest.NewServer(c.h)
		u, _ := url.Parse(srv.URL)
		d, err := attack.NewDoer(u, attack.DoerOptions{MaxResponseBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		p := mustPrepare(t, &traffic.Request{Path: "/"}, u)
		a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}, Timeout: 300 * time.Millisecond})
		st, err := a.Step(context.Background(), &dueFeed{n: 5, gap: 10 * time.Millisecond, req: []*attack.Prepared{p}}, attack.StepSpec{Rate: 100, Duration: 60 * time.Millisecond})
		a.Close()
		srv.CloseClientConnections()
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.ByClass[c.class] != 5 || st.Successes != 0 {
			t.Errorf("%s: classes %v, %d successes; want 5 %s", c.name, st.ByClass, st.Successes, c.class)
		}
	}
}
