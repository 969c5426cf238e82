// Package testserver holds HTTP servers whose behaviour is known exactly,
// the ground truth the tests hold the tool to.
package testserver

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Slots is a server with K slots, each held for Service per request:
// its capacity is exactly K / Service requests per second. Requests that
// find every slot busy wait in line.
type Slots struct {
	K       int
	Service time.Duration
	// Jitter, when set, draws each request's service time uniformly from
	// Service ± Jitter: the mean, and so the capacity, stay the same.
	Jitter time.Duration
	sem    chan struct{}
	Served atomic.Int64
	mu     sync.Mutex
	// Seen records each request's method, URI, headers and body when Record is set.
	Record bool
	Seen   []Seen
}

// Seen is one request as the server received it.
type Seen struct {
	At     time.Time
	Method string
	URI    string
	Header http.Header
	Body   []byte
}

// NewSlots returns the handler.
func NewSlots(k int, service time.Duration) *Slots {
	return &Slots{K: k, Service: service, sem: make(chan struct{}, k)}
}

// Capacity is K / Service.
func (s *Slots) Capacity() float64 { return float64(s.K) / s.Service.Seconds() }

func (s *Slots) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.Record {
		s.mu.Lock()
		s.Seen = append(s.Seen, Seen{At: time.Now(), Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	d := s.Service
	if s.Jitter > 0 {
		d += time.Duration((2*rand.Float64() - 1) * float64(s.Jitter))
	}
	time.Sleep(d)
	<-s.sem
	s.Served.Add(1)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"items":[1,2,3]}`)
}

// Requests returns a copy of what was recorded.
func (s *Slots) Requests() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.Seen...)
}

// Start serves h on loopback until the test ends.
func Start(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Capacity is a server's capacity measured closed-loop: the better of the
// two measurements taken by Before and After. CPU noise from other tests
// sharing the machine only ever slows a server down, so the better of a
// measurement before a ramp and one after it is the fairer yardstick for
// what the ramp found.
type Capacity struct {
	url     string
	clients int
	d       time.Duration
	before  float64
}

// MeasureCapacity measures closed-loop capacity now (see ClosedLoop).
func MeasureCapacity(ctx context.Context, url string, clients int, d time.Duration) *Capacity {
	return &Capacity{url: url, clients: clients, d: d, before: ClosedLoop(ctx, url, clients, d)}
}

// Before is the measurement taken by MeasureCapacity.
func (c *Capacity) Before() float64 { return c.before }

// After measures again and returns the better of the two.
func (c *Capacity) After(ctx context.Context) (best, after float64) {
	after = ClosedLoop(ctx, c.url, c.clients, c.d)
	return max(c.before, after), after
}

// ClosedLoop measures a server's capacity the classic way: n clients each
// sending their next request as soon as the previous one returns, for d.
// The rate is the slope of the completions counted against their times,
// from a quarter of d on (once every client has connected and the
// server's queue has filled): a server whose slots finish together
// completes in batches, and a plain count over a window would jump by a
// batch (2% for 16 slots over 2 s) with where the window's edges fall.
func ClosedLoop(ctx context.Context, url string, n int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	from := d / 4
	var mu sync.Mutex
	var at []float64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				res, err := c.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if el := time.Since(start); ctx.Err() == nil && el >= from {
					mu.Lock()
					at = append(at, el.Seconds())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return countSlope(at)
}

// countSlope is the least-squares slope of the completion count against
// the completion times: completions per second.
func countSlope(at []float64) float64 {
	if len(at) < 2 {
		return 0
	}
	sort.Float64s(at)
	var mt, mi float64
	for i, t := range at {
		mt += t
		mi += float64(i)
	}
	nf := float64(len(at))
	mt, mi = mt/nf, mi/nf
	var sxy, sxx float64
	for i, t := range at {
		sxy += (t - mt) * (float64(i) - mi)
		sxx += (t - mt) * (t - mt)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// Stall answers in Service, except that it stops answering for Pause every
// Period: requests that arrive during a pause wait until it ends.
type Stall struct {
	Service time.Duration
	Pause   time.Duration
	Period  time.Duration
	start   time.Time
	once    sync.Once
}

func (s *Stall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() { s.start = time.Now() })
	io.Copy(io.Discard, r.Body)
	el := time.Since(s.start) % s.Period
	if rest := s.Period - el; rest <= s.Pause {
		time.Sleep(rest)
	}
	time.Sleep(s.Service)
	io.WriteString(w, "ok")
}
