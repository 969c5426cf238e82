package attack

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// MaxCachedLines is the longest traffic file a Provider keeps prepared in
// memory after its first pass; longer files are streamed and parsed again
// on every pass, so memory stays bounded whatever the file's size.
const MaxCachedLines = 50000

// Provided is one request from the traffic file, prepared for every target.
type Provided struct {
	Req   []*Prepared
	TS    time.Time
	Cycle int
}

// Provider reads the traffic source on its own goroutine and prepares
// requests ahead of the pacer, so reading and parsing the file never
// delays a send.
type Provider struct {
	ch     chan Provided
	cancel context.CancelFunc
	errMu  sync.Mutex
	err    error
	done   chan struct{}
	// pending holds a request read but not sent, returned first by Next.
	pending *Provided
}

// NewProvider starts preparing requests from src for the targets (one
// PrepareFunc each, see PrepareFor), each
// marked with its endpoint group when groups is not nil. The
// source's position carries over from step to step. With lines > 0 and at
// most MaxCachedLines (the file's request count), the first pass is kept
// prepared and later passes replay it from memory in the same order,
// without reading or parsing the file again.
func NewProvider(src *traffic.Source, targets []PrepareFunc, lines int, groups *Groups) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{ch: make(chan Provided, 4096), cancel: cancel, done: make(chan struct{})}
	cacheable := lines > 0 && lines <= MaxCachedLines && src.Filter == nil
	go func() {
		defer close(p.done)
		defer close(p.ch)
		send := func(v Provided) bool {
			select {
			case p.ch <- v:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var pass []Provided
		for {
			req, err := src.Next()
			if err != nil {
				p.errMu.Lock()
				p.err = err
				p.errMu.Unlock()
				return
			}
			if cacheable && src.Cycles > 0 {
				break // the first pass is complete: replay it from memory
			}
			prep := make([]*Prepared, len(targets))
			var group uint16
			if groups != nil {
				group = groups.Of(req)
			}
			for i, t := range targets {
				if prep[i], err = t(req); err != nil {
					p.errMu.Lock()
					p.err = err
					p.errMu.Unlock()
					return
				}
				prep[i].Group = group
			}
			v := Provided{Req: prep, TS: req.TS, Cycle: src.Cycles}
			if cacheable {
				pass = append(pass, v)
			}
			if !send(v) {
				return
			}
		}
		for cycle := 1; ; cycle++ {
			for _, v := range pass {
				v.Cycle = cycle
				if !send(v) {
					return
				}
			}
		}
	}()
	return p
}

// Next returns the next prepared request.
func (p *Provider) Next() (Provided, error) {
	if p.pending != nil {
		v := *p.pending
		p.pending = nil
		return v, nil
	}
	v, ok := <-p.ch
	if !ok {
		p.errMu.Lock()
		defer p.errMu.Unlock()
		if p.err == nil {
			return Provided{}, errors.New("attack: traffic provider closed")
		}
		return Provided{}, p.err
	}
	return v, nil
}

// Unread makes v the next request Next returns.
func (p *Provider) Unread(v Provided) { p.pending = &v }

// Close stops the provider's goroutine.
func (p *Provider) Close() {
	p.cancel()
	for range p.ch {
	}
	<-p.done
}

// RateFeed pairs arrivals from a schedule with requests from a provider.
// Without a provider it yields the schedule alone (items without
// requests), for a Stepper that sends nothing (a simulation).
type RateFeed struct {
	Arrivals pace.Arrivals
	Provider *Provider
	last     Provided
}

// Unread returns the last request to the provider: the step ended before it
// was due, and the next step sends it.
func (f *RateFeed) Unread() {
	if f.Provider != nil {
		f.Provider.Unread(f.last)
	}
}

// Next implements Feed.
func (f *RateFeed) Next() (Item, error) {
	off := f.Arrivals.Next()
	if f.Provider == nil {
		return Item{Offset: off}, nil
	}
	v, err := f.Provider.Next()
	if err != nil {
		return Item{}, err
	}
	f.last = v
	return Item{Offset: off, Req: v.Req}, nil
}

// RecordedFeed replays the recording's own spacing, scaled by Speed, from
// wherever the provider stands. Passes through the file follow each other
// after Span (the recording's length plus one mean gap).
type RecordedFeed struct {
	Provider *Provider
	Speed    float64
	Span     time.Duration
	first    time.Time
	base     int
	started  bool
	last     Provided
}

// Unread returns the last request to the provider.
func (f *RecordedFeed) Unread() { f.Provider.Unread(f.last) }

// Next implements Feed.
func (f *RecordedFeed) Next() (Item, error) {
	v, err := f.Provider.Next()
	if err != nil {
		return Item{}, err
	}
	f.last = v
	if !f.started {
		f.started, f.first, f.base = true, v.TS, v.Cycle
	}
	ts := v.TS.Sub(f.first)
	return Item{Offset: pace.RecordedOffset(ts, v.Cycle-f.base, f.Span, f.Speed), Req: v.Req}, nil
}

// ABFeed sends every request of an inner feed to both sides of a live A/B
// run, half a mean gap apart, alternating which side goes first, so that
// the machine's noise falls on both sides alike. Each side receives the
// inner feed's rate.
type ABFeed struct {
	Inner Feed
	// Rate is the inner feed's mean rate per second.
	Rate    float64
	pending *Item
	n       int
}

// Next implements Feed.
func (f *ABFeed) Next() (Item, error) {
	if f.pending != nil {
		it := *f.pending
		f.pending = nil
		return it, nil
	}
	it, err := f.Inner.Next()
	if err != nil {
		return it, err
	}
	first, second := 0, 1
	if f.n%2 == 1 {
		first, second = 1, 0
	}
	f.n++
	half := time.Duration(0)
	if f.Rate > 0 {
		half = time.Duration(float64(time.Second) / f.Rate / 2)
	}
	other := Item{Offset: it.Offset + half, Req: it.Req, Side: second}
	f.pending = &other
	it.Side = first
	return it, nil
}

// Unread gives the inner feed its last request back; a pending second
// send of it is dropped with it, so both sides see the same requests.
func (f *ABFeed) Unread() {
	if f.pending != nil {
		f.pending = nil
		if u, ok := f.Inner.(interface{ Unread() }); ok {
			u.Unread()
		}
	}
}
