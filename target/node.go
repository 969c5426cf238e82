// Package target is the bundled reference prediction service, the system
// under test bestbefore ships: a product ranking model behind a simulated
// feature-store lookup, a bounded queue, a worker pool and an LRU cache.
// A node's capacity is set by its configuration (workers ÷ lookup time),
// not by the speed of the machine, so capacity tests have a known answer.
//
// A Node is an http.Handler that tests mount with httptest; a Cluster runs
// nodes as separate processes behind a round-robin balancer.
package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/bestbefore/bestbefore/target/catalog"
)

// Node is one instance of the prediction service.
type Node struct {
	cfg    Config
	flags  Flags
	model  *Model
	cache  *lru
	lookup lognormal
	jobs   chan *job
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	ready  atomic.Bool
	mux    *http.ServeMux
	batch  *batcher
	llm    *llmEngine
	grpc   *grpc.Server

	reg       *prometheus.Registry
	duration  *prometheus.HistogramVec
	inference *prometheus.HistogramVec
	lookupH   prometheus.Histogram
	inFlight  prometheus.Gauge
	busy      prometheus.Gauge
	hits      prometheus.Counter
	misses    prometheus.Counter
	rejected  prometheus.Counter
}

type job struct {
	ctx  context.Context
	req  PredictRequest
	done chan PredictResponse
}

// NewNode trains the model and starts the worker pool. Close stops it.
func NewNode(cfg Config) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	flags, _ := ParseFlags(cfg.Flags)
	n := &Node{
		cfg:    cfg,
		flags:  flags,
		model:  NewModel(catalog.Generate(cfg.Items, uint64(cfg.Seed))),
		cache:  newLRU(cfg.Cache),
		lookup: newLognormal(cfg.Lookup, cfg.LookupP99),
		jobs:   make(chan *job, cfg.Queue),
		stop:   make(chan struct{}),
	}
	n.initMetrics()
	n.batch = newBatcher(cfg.Batch, newScorer(), n.reg)
	n.llm = newLLMEngine(cfg.LLM, n.reg)
	n.grpc = n.newGRPCServer()
	n.mux = http.NewServeMux()
	n.registerOIP()
	n.registerLLM()
	n.mux.HandleFunc("/v1/predict", n.handlePredict)
	n.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	n.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !n.ready.Load() {
			writeError(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ready\n")
	})
	n.mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
	n.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s %s (try POST /v1/predict)", r.Method, r.URL.Path))
	})
	for i := 0; i < cfg.Workers; i++ {
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed)^uint64(cfg.Index)<<32, uint64(i)+1))
		n.wg.Add(1)
		go n.worker(rng)
	}
	n.ready.Store(true)
	return n, nil
}

// Config returns the node's configuration after defaults.
func (n *Node) Config() Config { return n.cfg }

// CapacityQPS is the node's configured throughput.
func (n *Node) CapacityQPS() float64 { return n.cfg.CapacityQPS() }

// Model returns the node's trained model.
func (n *Node) Model() *Model { return n.model }

// Registry returns the node's own Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// ServeHTTP serves the node's endpoints: gRPC (HTTP/2, content type
// application/grpc) to the OIP service, the rest to the HTTP API.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if IsGRPC(r) {
		n.grpc.ServeHTTP(w, r)
		return
	}
	n.mux.ServeHTTP(w, r)
}

// IsGRPC says whether r is a gRPC call.
func IsGRPC(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// Close stops the workers; requests still waiting are answered 503.
func (n *Node) Close() {
	n.closed.Do(func() {
		n.ready.Store(false)
		close(n.stop)
		n.wg.Wait()
		n.batch.close()
		n.llm.close()
		n.grpc.Stop()
	})
}

// exactBuckets is prometheus.ExponentialBuckets with each bound rounded to
// four significant digits, so le labels read 0.00225, not
// 0.0022500000000000003.
func exactBuckets(start, factor float64, count int) []float64 {
	b := prometheus.ExponentialBuckets(start, factor, count)
	for i, v := range b {
		b[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	}
	return b
}

func (n *Node) initMetrics() {
	reg := prometheus.NewRegistry()
	n.reg = reg
	const ns = "bestbefore_target"
	n.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "request_duration_seconds",
		Help:    "Time to answer a request, from its arrival to the last byte written, by path and status code.",
		Buckets: exactBuckets(0.001, 1.5, 24),
	}, []string{"path", "code"})
	n.inference = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "inference_duration_seconds",
		Help:    "CPU time of the ranking model per request (cache misses only), by model.",
		Buckets: exactBuckets(0.00001, 2, 16),
	}, []string{"model"})
	n.lookupH = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "lookup_duration_seconds",
		Help:    "Simulated feature-store lookup time.",
		Buckets: exactBuckets(0.001, 1.5, 20),
	})
	n.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "in_flight_requests", Help: "Predict requests being served or queued."})
	n.busy = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "busy_workers", Help: "Workers serving a request."})
	n.hits = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_hits_total", Help: "Rankings served from the LRU cache."})
	n.misses = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_misses_total", Help: "Rankings computed by the model."})
	n.rejected = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rejected_total", Help: "Requests answered 503 because the queue was full."})
	reg.MustRegister(n.duration, n.inference, n.lookupH, n.inFlight, n.busy, n.hits, n.misses, n.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "queue_length", Help: "Requests waiting for a worker."},
			func() float64 { return float64(len(n.jobs)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "queue_capacity", Help: "Requests the queue holds before answering 503."},
			func() float64 { return float64(cap(n.jobs)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "workers", Help: "Size of the worker pool."},
			func() float64 { return float64(n.cfg.Workers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "capacity_qps", Help: "Configured capacity of the node: workers / mean lookup time."},
			func() float64 { return n.CapacityQPS() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cache_entries", Help: "Rankings held by the LRU cache."},
			func() float64 { return float64(n.cache.len()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
}

func (n *Node) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		n.duration.WithLabelValues("/v1/predict", strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	}()
	if r.Method != http.MethodPost {
		rec.Header().Set("Allow", http.MethodPost)
		writeError(rec, http.StatusMethodNotAllowed, "use POST with a JSON body such as {\"query\":\"wireless mouse\",\"k\":5}")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rec, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(rec, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(rec, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	req, err := DecodeRequest(body)
	if err != nil {
		writeError(rec, http.StatusBadRequest, err.Error())
		return
	}
	n.inFlight.Inc()
	defer n.inFlight.Dec()
	j := &job{ctx: r.Context(), req: req, done: make(chan PredictResponse, 1)}
	select {
	case n.jobs <- j:
	default:
		n.rejected.Inc()
		rec.Header().Set("Retry-After", "1")
		writeError(rec, http.StatusServiceUnavailable, fmt.Sprintf("overloaded: %d requests already queued", cap(n.jobs)))
		return
	}
	select {
	case resp := <-j.done:
		rec.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rec).Encode(resp)
	case <-r.Context().Done():
		rec.code = 499 // client closed the request
	case <-n.stop:
		writeError(rec, http.StatusServiceUnavailable, "shutting down")
	}
}

func (n *Node) worker(rng *rand.Rand) {
	defer n.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var j *job
		select {
		case <-n.stop:
			return
		case j = <-n.jobs:
		}
		if j.ctx.Err() != nil {
			continue // the client left while queued: no work
		}
		n.busy.Inc()
		d := n.lookup.draw(rng)
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-n.stop:
			timer.Stop()
			n.busy.Dec()
			return
		}
		n.lookupH.Observe(d.Seconds())
		j.done <- n.Predict(j.req)
		n.busy.Dec()
	}
}

// Predict answers a request directly, without lookup delay or queue; the
// HTTP path calls it after the simulated feature-store lookup. The same
// request always gets the same predictions, cached or not.
func (n *Node) Predict(req PredictRequest) PredictResponse {
	variant := n.variantFor(req)
	tokens := Tokenize(req.Query)
	key := variant + "\x00" + strings.Join(tokens, " ")
	cands, cached := n.cache.get(key)
	if cached {
		n.hits.Inc()
	} else {
		n.misses.Inc()
		t0 := time.Now()
		cands = n.model.Rank(tokens, variant)
		n.inference.WithLabelValues(variant).Observe(time.Since(t0).Seconds())
		n.cache.add(key, cands)
	}
	k := req.K
	if k == 0 {
		k = DefaultK
	}
	return PredictResponse{
		Predictions: n.personalize(cands, req.User, k),
		Model:       variant,
		Cached:      cached,
		Node:        n.cfg.Index,
	}
}

// variantFor picks the model: with new-ranker at a share, a stable share
// of users (or of queries, for anonymous requests) gets the new ranker.
func (n *Node) variantFor(req PredictRequest) string {
	share := n.flags.NewRanker
	switch {
	case share <= 0:
		return VariantBaseline
	case share >= 1:
		return VariantNewRanker
	}
	id := req.User
	if id == "" {
		id = req.Query
	}
	if float64(splitmix(hash64("new-ranker\x00"+id))>>11)/float64(1<<53) < share {
		return VariantNewRanker
	}
	return VariantBaseline
}

// personalize re-ranks the cached candidates by the user's taste for each
// category and returns the top k.
func (n *Node) personalize(cands []Candidate, user string, k int) []Prediction {
	items := n.model.Items()
	type scored struct {
		item  int32
		score float32
	}
	s := make([]scored, len(cands))
	for i, c := range cands {
		s[i] = scored{c.Item, c.Score + 0.02*affinity(user, items[c.Item].Category)}
	}
	// Insertion sort: the list is short and nearly sorted already.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].score > s[j-1].score || s[j].score == s[j-1].score && s[j].item < s[j-1].item); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if k > len(s) {
		k = len(s)
	}
	out := make([]Prediction, k)
	for i := range out {
		it := items[s[i].item]
		out[i] = Prediction{ID: it.ID, Title: it.Title, Category: it.Category, Score: math.Round(float64(s[i].score)*1e6) / 1e6}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(ErrorResponse{Error: msg})
}
