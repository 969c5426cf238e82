package target

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health checking: a node that fails one probe (or one proxied request)
// leaves the rotation at once; probes every healthInterval bring it back.
const (
	healthInterval = 250 * time.Millisecond
	healthTimeout  = 500 * time.Millisecond
)

// Balancer spreads requests round robin over the healthy nodes. It never
// retries a failed request on another node: a node's failure reaches the
// client, as it would in production behind a simple load balancer.
type Balancer struct {
	mu       sync.RWMutex
	backends []*backend
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	tr       *http.Transport
	// grpcProxy forwards gRPC calls over HTTP/2 in the clear, one call a
	// request, so node loss and round robin act on calls as on requests.
	grpcProxy *httputil.ReverseProxy
	check     *http.Client
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	once      sync.Once

	// The balancer's own metrics, at its /metrics: what it forwarded to
	// each node and with what status, never a node's own figures.
	reg       *prometheus.Registry
	forwarded *prometheus.CounterVec
	failed    *prometheus.CounterVec
	noNode    prometheus.Counter
	inFlight  prometheus.Gauge
}

type backend struct {
	index    int
	url      *url.URL
	up       atomic.Bool // health
	disabled atomic.Bool // taken out by an operator (a killed node)
}

type backendKey struct{}

// NewBalancer balances over the given node base URLs and starts health
// checks; Close stops them.
func NewBalancer(nodeURLs []string) (*Balancer, error) {
	b := &Balancer{
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	b.check = &http.Client{Timeout: healthTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	for i, s := range nodeURLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("node %d: %v", i, err)
		}
		be := &backend{index: i, url: u}
		be.up.Store(true)
		b.backends = append(b.backends, be)
	}
	b.initMetrics()
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			be := pr.In.Context().Value(backendKey{}).(*backend)
			pr.SetURL(be.url)
		},
		Transport:     b.tr,
		BufferPool:    bufferPool{},
		FlushInterval: -1,
		ErrorHandler:  b.proxyError,
		ModifyResponse: func(resp *http.Response) error {
			be := resp.Request.Context().Value(backendKey{}).(*backend)
			b.forwarded.WithLabelValues(strconv.Itoa(be.index), strconv.Itoa(resp.StatusCode)).Inc()
			return nil
		},
	}
	h2c := &http.Transport{
		DialContext:        (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		DisableCompression: true,
		Protocols:          new(http.Protocols),
	}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	gp := *b.proxy
	gp.Transport = h2c
	b.grpcProxy = &gp
	go b.healthLoop()
	return b, nil
}

func (b *Balancer) initMetrics() {
	const ns = "bestbefore_balancer"
	b.reg = prometheus.NewRegistry()
	b.forwarded = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "forwarded_total",
		Help: "Requests forwarded to a node that answered, by node and status code."}, []string{"node", "code"})
	b.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "node_failures_total",
		Help: "Requests a node failed to answer (answered 502), by node."}, []string{"node"})
	b.noNode = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "no_node_total",
		Help: "Requests answered 503 because no node was in the rotation."})
	b.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "in_flight_requests",
		Help: "Requests being forwarded."})
	b.reg.MustRegister(b.forwarded, b.failed, b.noNode, b.inFlight,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "nodes_in_rotation", Help: "Nodes receiving requests."},
			func() float64 {
				n := 0
				for _, up := range b.Up() {
					if up {
						n++
					}
				}
				return float64(n)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "nodes", Help: "Nodes behind the balancer."},
			func() float64 { return float64(len(b.Up())) }),
	)
}

// MetricsHandler serves the balancer's own metrics (Prometheus text).
func (b *Balancer) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(b.reg, promhttp.HandlerOpts{Registry: b.reg})
}

// ServeHTTP forwards the request to the next healthy node.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	be := b.pick()
	if be == nil {
		b.noNode.Inc()
		if IsGRPC(r) {
			writeGRPCError(w, grpcUnavailable, "no healthy node")
			return
		}
		writeError(w, http.StatusServiceUnavailable, "no healthy node")
		return
	}
	b.inFlight.Inc()
	defer b.inFlight.Dec()
	p := b.proxy
	if IsGRPC(r) {
		p = b.grpcProxy
	}
	p.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, be)))
}

func (b *Balancer) pick() *backend {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := uint64(len(b.backends))
	if n == 0 {
		return nil
	}
	// Round robin over the nodes in the rotation: skipping a dead node to
	// its neighbour would give that neighbour twice its share.
	var live [64]*backend
	m := 0
	for _, be := range b.backends {
		if be.up.Load() && !be.disabled.Load() && m < len(live) {
			live[m] = be
			m++
		}
	}
	if m == 0 {
		return nil
	}
	return live[(b.next.Add(1)-1)%uint64(m)]
}

func (b *Balancer) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left; nothing to answer, the node is not at fault
	}
	be := r.Context().Value(backendKey{}).(*backend)
	b.failed.WithLabelValues(strconv.Itoa(be.index)).Inc()
	b.SetUp(be.index, false)
	b.Kick()
	msg := fmt.Sprintf("node %d failed: %v", be.index, err)
	if IsGRPC(r) {
		writeGRPCError(w, grpcUnavailable, msg)
		return
	}
	writeError(w, http.StatusBadGateway, msg)
}

// grpcUnavailable is gRPC's status code UNAVAILABLE.
const grpcUnavailable = 14

// writeGRPCError answers a gRPC call with a status and no message, as a
// gRPC proxy does (HTTP 200, the status in the trailers): a client reads
// UNAVAILABLE and the reason, not an HTTP error it must interpret.
func writeGRPCError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Trailer", "Grpc-Status, Grpc-Message")
	w.WriteHeader(http.StatusOK)
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", url.PathEscape(msg))
}

// SetUp puts node i in or out of the rotation until the next health check.
func (b *Balancer) SetUp(i int, up bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if i >= 0 && i < len(b.backends) {
		b.backends[i].up.Store(up)
	}
}

// Disable takes node i out of the rotation until SetURL brings it back,
// whatever its health checks say.
func (b *Balancer) Disable(i int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if i >= 0 && i < len(b.backends) {
		b.backends[i].disabled.Store(true)
	}
}

// SetURL points node i at a new, ready address (a revived node) and puts it
// back in the rotation.
func (b *Balancer) SetURL(i int, nodeURL string) error {
	u, err := url.Parse(nodeURL)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if i >= 0 && i < len(b.backends) {
		be := &backend{index: i, url: u}
		be.up.Store(true)
		b.backends[i] = be
	}
	b.mu.Unlock()
	b.Kick()
	return nil
}

// Up reports which nodes are in the rotation.
func (b *Balancer) Up() []bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]bool, len(b.backends))
	for i, be := range b.backends {
		out[i] = be.up.Load() && !be.disabled.Load()
	}
	return out
}

// Kick runs a health check now.
func (b *Balancer) Kick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Balancer) healthLoop() {
	defer close(b.done)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		b.mu.RLock()
		bes := append([]*backend(nil), b.backends...)
		b.mu.RUnlock()
		var wg sync.WaitGroup
		for _, be := range bes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				be.up.Store(b.probe(be.url))
			}()
		}
		wg.Wait()
	}
}

func (b *Balancer) probe(u *url.URL) bool {
	resp, err := b.check.Get(u.String() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Close stops the health checks and drops idle connections.
func (b *Balancer) Close() {
	b.once.Do(func() {
		close(b.stop)
		<-b.done
		b.tr.CloseIdleConnections()
	})
}

// bufferPool recycles the proxy's copy buffers instead of allocating 32 KiB
// per request.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
