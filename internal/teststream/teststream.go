// Package teststream is a truth server for streamed responses: each
// answer is a stream of server-sent events on a known schedule, so a
// test knows what time to first token and between tokens a client must
// measure.
package teststream

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Schedule is what every answer streams: its first event First after the
// request arrived, then one every Every, Events in all (each at its own
// time from the arrival, so a late wake-up does not shift the rest),
// then, when Usage, an OpenAI-style usage object counting them, and the
// [DONE] marker.
type Schedule struct {
	First  time.Duration
	Every  time.Duration
	Events int
	Usage  bool
	// NDJSON streams newline-delimited JSON (application/x-ndjson), a
	// line an event, instead of server-sent events.
	NDJSON bool
	// Sent, when set, records when the server actually wrote each event:
	// its own timers wake late by a little, and a client can be held to
	// what was sent as well as to what was scheduled.
	Sent *Sent `json:"-"`
}

// Sent is what a Schedule's server actually sent: the time from each
// request's arrival to its first event, and the gaps between events
// (microsecond histograms).
type Sent struct {
	mu          sync.Mutex
	First, Gaps *hdrhistogram.Histogram
}

// NewSent returns an empty record.
func NewSent() *Sent { return &Sent{First: stats.New(), Gaps: stats.New()} }

func (s *Sent) add(h *hdrhistogram.Histogram, d time.Duration) {
	if s == nil {
		return
	}
	v, _ := stats.Micros(d)
	s.mu.Lock()
	_ = h.RecordValue(v)
	s.mu.Unlock()
}

// Quantile returns the q-th percentile of h as a duration.
func (s *Sent) Quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// ServeHTTP streams the schedule.
func (s Schedule) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	fl, _ := w.(http.Flusher)
	if s.NDJSON {
		w.Header().Set("Content-Type", "application/x-ndjson")
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	w.WriteHeader(http.StatusOK)
	if fl != nil {
		fl.Flush() // the header goes at once: the first token is what is awaited
	}
	var last time.Time
	for i := 0; i < s.Events; i++ {
		// The runtime's timers wake up to a millisecond late when the
		// process is otherwise idle, the size of what a client is held to
		// here: a timer takes the wait to 2 ms before the event, and
		// nanosleep(2) the rest.
		at := arrived.Add(s.First + time.Duration(i)*s.Every)
		if d := time.Until(at) - 2*time.Millisecond; d > 0 {
			time.Sleep(d)
		}
		if d := time.Until(at); d > 0 {
			ts := syscall.NsecToTimespec(int64(d))
			_ = syscall.Nanosleep(&ts, nil)
		}
		if r.Context().Err() != nil {
			return
		}
		if s.NDJSON {
			fmt.Fprintf(w, "{\"token\":{\"id\":%d,\"text\":\" w%d\"}}\n", i, i)
		} else {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"text\":\" w%d\",\"finish_reason\":null}]}\n\n", i)
		}
		if fl != nil {
			fl.Flush()
		}
		now := time.Now()
		if s.Sent != nil {
			if i == 0 {
				s.Sent.add(s.Sent.First, now.Sub(arrived))
			} else {
				s.Sent.add(s.Sent.Gaps, now.Sub(last))
			}
		}
		last = now
	}
	if s.NDJSON {
		return
	}
	if s.Usage {
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", s.Events, s.Events+3)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// childEnv carries a schedule to the child process that serves it.
const childEnv = "BESTBEFORE_TESTSTREAM_CHILD"

// ChildMain serves a schedule when the process was started as a truth
// server's child (Start): call it first thing in TestMain. It returns
// false in any other process.
func ChildMain() bool {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return false
	}
	var s Schedule
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "teststream child:", err)
		os.Exit(2)
	}
	s.Sent = NewSent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "teststream child:", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sent", func(w http.ResponseWriter, r *http.Request) {
		q := func(h *hdrhistogram.Histogram, p float64) int64 { return int64(s.Sent.Quantile(h, p)) }
		json.NewEncoder(w).Encode(map[string]int64{"first_p50": q(s.Sent.First, 50), "first_p99": q(s.Sent.First, 99), "gaps_p50": q(s.Sent.Gaps, 50), "gaps_p99": q(s.Sent.Gaps, 99)})
	})
	mux.Handle("/", s)
	fmt.Println(ln.Addr().String())
	// The parent closes stdin when it is done; the child then ends.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	srv := &http.Server{Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // h2c, for the HTTP/2 client
	_ = srv.Serve(ln)
	return true
}

// Child is a truth server running in a process of its own, so that its
// timers and the client under test do not share a Go scheduler.
type Child struct {
	URL string
	cmd *exec.Cmd
}

// StartChild starts s in a child process (the test binary again, whose
// TestMain calls ChildMain) and stops it when the test ends.
func StartChild(t testing.TB, s Schedule) *Child {
	t.Helper()
	s.Sent = nil
	spec, _ := json.Marshal(s)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("truth server child: %v", err)
	}
	return &Child{URL: "http://" + strings.TrimSpace(line), cmd: cmd}
}

// SentQuantiles is what the child's server actually sent: the p50 and
// p99 of the time to its first event and of the gaps between events.
type SentQuantiles struct {
	FirstP50, FirstP99, GapsP50, GapsP99 time.Duration
}

// Sent asks the child what it sent.
func (c *Child) Sent(t testing.TB) SentQuantiles {
	t.Helper()
	resp, err := http.Get(c.URL + "/sent")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return SentQuantiles{time.Duration(m["first_p50"]), time.Duration(m["first_p99"]), time.Duration(m["gaps_p50"]), time.Duration(m["gaps_p99"])}
}
