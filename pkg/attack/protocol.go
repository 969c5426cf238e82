package attack

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// DoerOptions is what every protocol's client is built with: the bounds
// and the guard are the same whatever the protocol speaks.
type DoerOptions struct {
	// MaxConns bounds connections (HTTP/1.1) or calls in flight.
	MaxConns int
	// MaxResponseBytes bounds a response body or message.
	MaxResponseBytes int64
	Guard            h1.Guard
	// Protocol is target.protocol for http(s):// targets (h1.Protocols).
	Protocol string
	RootCAs  *x509.CertPool
	// Connections is target.connections: how many connections a
	// multiplexing protocol (h2, h2c, gRPC) spreads requests over; 0 is
	// the protocol's default.
	Connections int
	// Setup is what the protocol's own preflight loaded for this run
	// (gRPC: the descriptors and the connection settings), nil for HTTP.
	Setup any
}

// NewDoerFunc builds the client of one protocol for one target.
type NewDoerFunc func(base *url.URL, o DoerOptions) (Doer, error)

// Preparer is a Doer that prepares its own requests (a gRPC client
// encodes a traffic line's JSON as its method's protobuf message). A Doer
// that is not one sends HTTP/1.1 bytes made by Prepare.
type Preparer interface {
	Prepare(req *traffic.Request, base *url.URL, extra http.Header) (*Prepared, error)
}

var (
	protoMu   sync.RWMutex
	protocols = map[string]NewDoerFunc{}
)

// Register makes the URL scheme's targets use newDoer. A protocol
// registers once, from its own package; the rest of the pipeline
// (traffic, pacing, accounting, objectives) is the same for every one.
func Register(scheme string, newDoer NewDoerFunc) {
	protoMu.Lock()
	defer protoMu.Unlock()
	if _, dup := protocols[scheme]; dup {
		panic("attack: scheme registered twice: " + scheme)
	}
	protocols[scheme] = newDoer
}

func init() {
	h := func(base *url.URL, o DoerOptions) (Doer, error) {
		one := func() (Doer, error) {
			return NewH1Doer(base.String(), h1.Options{MaxConns: o.MaxConns, MaxResponseBytes: o.MaxResponseBytes, Guard: o.Guard, Protocol: o.Protocol, RootCAs: o.RootCAs})
		}
		if o.Connections <= 1 || (o.Protocol != h1.ProtocolH2 && o.Protocol != h1.ProtocolH2C) {
			return one()
		}
		// HTTP/2 keeps one connection per client; n clients are n
		// connections, used in turn.
		rr := &roundRobin{ds: make([]Doer, o.Connections)}
		for i := range rr.ds {
			d, err := one()
			if err != nil {
				return nil, err
			}
			rr.ds[i] = d
		}
		return rr, nil
	}
	Register("http", h)
	Register("https", h)
}

// roundRobin spreads requests over several Doers in turn.
type roundRobin struct {
	ds   []Doer
	next atomic.Uint32
}

func (r *roundRobin) Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error {
	return r.ds[int(r.next.Add(1)-1)%len(r.ds)].Do(p, deadline, keepBody, resp)
}

// CloseIdle closes the idle connections of each.
func (r *roundRobin) CloseIdle() {
	for _, d := range r.ds {
		if c, ok := d.(interface{ CloseIdle() }); ok {
			c.CloseIdle()
		}
	}
}

// NewDoer builds the client for base's scheme.
func NewDoer(base *url.URL, o DoerOptions) (Doer, error) {
	protoMu.RLock()
	f := protocols[base.Scheme]
	protoMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("no client speaks %s:// (this build speaks %s)", base.Scheme, strings.Join(Schemes(), ", "))
	}
	return f(base, o)
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	protoMu.RLock()
	defer protoMu.RUnlock()
	out := make([]string, 0, len(protocols))
	for s := range protocols {
		out = append(out, s+"://")
	}
	sort.Strings(out)
	return out
}

// PrepareFunc prepares one traffic request for one target.
type PrepareFunc func(req *traffic.Request) (*Prepared, error)

// PrepareFor returns how t's requests are prepared: by its Doer when it
// is a Preparer, else as HTTP/1.1 bytes (Prepare).
func PrepareFor(t Target, extra http.Header) PrepareFunc {
	if p, ok := t.Doer.(Preparer); ok {
		return func(req *traffic.Request) (*Prepared, error) { return p.Prepare(req, t.Base, extra) }
	}
	return func(req *traffic.Request) (*Prepared, error) { return Prepare(req, t.Base, extra) }
}
