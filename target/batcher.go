package target

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the dynamic batcher in front of the scorer model.
const (
	DefaultMaxBatch      = 8
	DefaultMaxQueueDelay = 2 * time.Millisecond
	DefaultBatchCost     = 4 * time.Millisecond
	DefaultRowCost       = 500 * time.Microsecond
	DefaultInstances     = 1
)

// BatchConfig shapes the dynamic batcher that serves the scorer model
// (the Open Inference Protocol's model), as Triton's dynamic_batching
// does: an instance takes the first request waiting, gathers more until
// MaxBatch rows or until MaxQueueDelay after that request arrived, then
// runs the batch in BatchCost + RowCost × rows. Its capacity is known
// analytically: Instances × MaxBatch / (BatchCost + RowCost × MaxBatch)
// rows a second, reached only when batches fill.
type BatchConfig struct {
	MaxBatch      int           `json:"max_batch"`
	MaxQueueDelay time.Duration `json:"max_queue_delay"`
	BatchCost     time.Duration `json:"batch_cost"`
	RowCost       time.Duration `json:"row_cost"`
	Instances     int           `json:"instances"`
	// Queue bounds the requests waiting (default 64 × MaxBatch); beyond
	// it a request is refused at once (503, UNAVAILABLE).
	Queue int `json:"queue"`
}

// WithDefaults fills unset fields.
func (b BatchConfig) WithDefaults() BatchConfig {
	if b.MaxBatch == 0 {
		b.MaxBatch = DefaultMaxBatch
	}
	if b.MaxQueueDelay == 0 {
		b.MaxQueueDelay = DefaultMaxQueueDelay
	}
	if b.BatchCost == 0 {
		b.BatchCost = DefaultBatchCost
	}
	if b.RowCost == 0 {
		b.RowCost = DefaultRowCost
	}
	if b.Instances == 0 {
		b.Instances = DefaultInstances
	}
	if b.Queue == 0 {
		b.Queue = 64 * b.MaxBatch
	}
	return b
}

// Validate checks a configuration after defaults.
func (b BatchConfig) Validate() error {
	var errs []error
	if b.MaxBatch < 1 || b.MaxBatch > 4096 {
		errs = append(errs, fmt.Errorf("max_batch: must be between 1 and 4096, got %d", b.MaxBatch))
	}
	if b.MaxQueueDelay < 0 || b.MaxQueueDelay > time.Second {
		errs = append(errs, fmt.Errorf("max_queue_delay: must be between 0 and 1s, got %v", b.MaxQueueDelay))
	}
	if b.BatchCost < 0 || b.RowCost < 0 || b.BatchCost+b.RowCost <= 0 {
		errs = append(errs, fmt.Errorf("batch_cost and row_cost: must not be negative, and a batch must cost something (got %v + %v a row)", b.BatchCost, b.RowCost))
	}
	if b.Instances < 1 || b.Instances > 1024 {
		errs = append(errs, fmt.Errorf("instances: must be between 1 and 1024, got %d", b.Instances))
	}
	if b.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue: must not be negative, got %d", b.Queue))
	}
	return errors.Join(errs...)
}

// CapacityQPS is the batcher's throughput with full batches, in rows (one
// row a request: requests) a second.
func (b BatchConfig) CapacityQPS() float64 {
	b = b.WithDefaults()
	per := b.BatchCost + time.Duration(b.MaxBatch)*b.RowCost
	return float64(b.Instances*b.MaxBatch) / per.Seconds()
}

// errQueueFull refuses a request the batcher has no room for.
var errQueueFull = errors.New("overloaded: the batch queue is full")

// errStopped answers the requests still waiting when the node stops.
var errStopped = errors.New("shutting down")

// inferJob is one request waiting for its batch: rows of features, and
// where the scores go.
type inferJob struct {
	rows    int
	x       []float32
	arrived time.Time
	done    chan inferResult
}

type inferResult struct {
	scores []float32
	err    error
}

// batcher runs the scorer model on batches.
type batcher struct {
	cfg   BatchConfig
	model *scorer
	in    chan *inferJob
	stop  chan struct{}
	wg    sync.WaitGroup

	size    prometheus.Histogram
	queued  prometheus.Histogram
	refused prometheus.Counter
}

func newBatcher(cfg BatchConfig, model *scorer, reg prometheus.Registerer) *batcher {
	b := &batcher{cfg: cfg, model: model, in: make(chan *inferJob, cfg.Queue), stop: make(chan struct{})}
	const ns = "bestbefore_target"
	b.size = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_size",
		Help: "Rows in each batch the scorer model ran.", Buckets: batchBuckets(cfg.MaxBatch)})
	b.queued = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_queue_seconds",
		Help: "Time a request waited for its batch to start, from its arrival.", Buckets: exactBuckets(0.0001, 1.5, 24)})
	b.refused = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "batch_refused_total",
		Help: "Inference requests refused because the batch queue was full."})
	reg.MustRegister(b.size, b.queued, b.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "batch_queue_length", Help: "Inference requests waiting for a batch."},
			func() float64 { return float64(len(b.in)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "batch_max_size", Help: "The most rows a batch holds."},
			func() float64 { return float64(cfg.MaxBatch) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "batch_capacity_qps", Help: "The scorer's capacity with full batches: instances × max batch / (batch cost + row cost × max batch)."},
			func() float64 { return cfg.CapacityQPS() }),
	)
	for i := 0; i < cfg.Instances; i++ {
		b.wg.Add(1)
		go b.instance()
	}
	return b
}

// batchBuckets are 1, 2, ... max, thinned above 32 to powers of 1.25.
func batchBuckets(max int) []float64 {
	var out []float64
	for v := 1.0; v <= float64(max); {
		out = append(out, v)
		if v < 32 {
			v++
		} else {
			v = math.Ceil(v * 1.25)
		}
	}
	if out[len(out)-1] != float64(max) {
		out = append(out, float64(max))
	}
	return out
}

// submit queues a request of rows rows and waits for its scores.
func (b *batcher) submit(rows int, x []float32) ([]float32, error) {
	j := &inferJob{rows: rows, x: x, arrived: time.Now(), done: make(chan inferResult, 1)}
	select {
	case b.in <- j:
	default:
		b.refused.Inc()
		return nil, errQueueFull
	}
	select {
	case r := <-j.done:
		return r.scores, r.err
	case <-b.stop:
		return nil, errStopped
	}
}

// instance gathers and runs batches until the batcher stops.
func (b *batcher) instance() {
	defer b.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var carry *inferJob
	batch := make([]*inferJob, 0, b.cfg.MaxBatch)
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.in:
			case <-b.stop:
				return
			}
		}
		batch = append(batch[:0], first)
		rows := first.rows
		wait := time.Until(first.arrived.Add(b.cfg.MaxQueueDelay))
		if wait > 0 {
			timer.Reset(wait)
		}
	gather:
		for rows < b.cfg.MaxBatch {
			var j *inferJob
			select {
			case j = <-b.in:
			default:
				if wait <= 0 {
					break gather
				}
				select {
				case j = <-b.in:
				case <-timer.C:
					wait = 0
					break gather
				case <-b.stop:
					return
				}
			}
			if rows+j.rows > b.cfg.MaxBatch {
				carry = j
				break
			}
			batch = append(batch, j)
			rows += j.rows
		}
		if wait > 0 {
			timer.Stop() // since Go 1.23 no stale tick is left to drain
		}
		start := time.Now()
		for _, j := range batch {
			b.queued.Observe(start.Sub(j.arrived).Seconds())
		}
		b.size.Observe(float64(rows))
		timer.Reset(b.cfg.BatchCost + time.Duration(rows)*b.cfg.RowCost)
		select {
		case <-timer.C:
		case <-b.stop:
			timer.Stop()
			return
		}
		for _, j := range batch {
			j.done <- inferResult{scores: b.model.score(j.rows, j.x)}
		}
	}
}

func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}
