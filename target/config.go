package target

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Defaults of a node's configuration.
const (
	DefaultWorkers = 8
	DefaultLookup  = 20 * time.Millisecond
	DefaultCache   = 10000
	DefaultItems   = 5000
	// DefaultP99Ratio is lookup_p99 / lookup when only the mean is given.
	DefaultP99Ratio = 2.5
)

// Config sets what one node of the service can carry. Its capacity is
// Workers / Lookup: each request holds a worker for one feature-store
// lookup (a sleep drawn from a lognormal distribution of mean Lookup and
// 99th percentile LookupP99) plus a fraction of a millisecond of model
// inference.
type Config struct {
	// Workers is the size of the node's worker pool.
	Workers int `json:"workers"`
	// Lookup is the mean feature-store lookup time.
	Lookup time.Duration `json:"lookup"`
	// LookupP99 is the 99th percentile of the lookup time (default 2.5 × Lookup).
	LookupP99 time.Duration `json:"lookup_p99"`
	// Cache is the number of query rankings the LRU cache holds; negative
	// disables it.
	Cache int `json:"cache"`
	// Queue bounds the requests waiting for a worker (default 4 × Workers);
	// beyond it a request is answered 503 at once.
	Queue int `json:"queue"`
	// Flags are feature flags, "name=value": new-ranker=on|off|25%.
	Flags []string `json:"flags"`
	// Items is the size of the generated catalogue (default 5000).
	Items int `json:"items"`
	// Seed seeds the catalogue and the lookup-time draws.
	Seed int64 `json:"seed"`
	// Index is the node's number in its cluster (reported in answers).
	Index int `json:"index"`
	// Batch shapes the dynamic batcher of the scorer model, served over
	// the Open Inference Protocol (REST and gRPC).
	Batch BatchConfig `json:"batch"`
	// LLM shapes the simulated language model behind the
	// OpenAI-compatible completion endpoints (continuous batching).
	LLM LLMConfig `json:"llm"`
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Lookup == 0 {
		c.Lookup = DefaultLookup
	}
	if c.LookupP99 == 0 {
		c.LookupP99 = time.Duration(float64(c.Lookup) * DefaultP99Ratio)
	}
	if c.Cache == 0 {
		c.Cache = DefaultCache
	}
	if c.Queue == 0 {
		c.Queue = 4 * c.Workers
	}
	if c.Items == 0 {
		c.Items = DefaultItems
	}
	c.Batch = c.Batch.WithDefaults()
	c.LLM = c.LLM.WithDefaults()
	return c
}

// Validate checks a configuration after defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 1 || c.Workers > 10000 {
		errs = append(errs, fmt.Errorf("workers: must be between 1 and 10000, got %d", c.Workers))
	}
	if c.Lookup <= 0 {
		errs = append(errs, fmt.Errorf("lookup: must be positive, got %v", c.Lookup))
	}
	if c.LookupP99 < c.Lookup {
		errs = append(errs, fmt.Errorf("lookup_p99: %v is below the mean lookup %v", c.LookupP99, c.Lookup))
	} else if c.Lookup > 0 && float64(c.LookupP99)/float64(c.Lookup) > maxP99Ratio {
		errs = append(errs, fmt.Errorf("lookup_p99: %v is more than %.0f× the mean lookup %v, which a lognormal cannot have", c.LookupP99, maxP99Ratio, c.Lookup))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue: must not be negative, got %d", c.Queue))
	}
	if c.Items < 1 || c.Items > 1_000_000 {
		errs = append(errs, fmt.Errorf("items: must be between 1 and 1000000, got %d", c.Items))
	}
	if _, err := ParseFlags(c.Flags); err != nil {
		errs = append(errs, err)
	}
	if err := c.Batch.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("batch: %w", err))
	}
	if err := c.LLM.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("llm: %w", err))
	}
	return errors.Join(errs...)
}

// CapacityQPS is the configured throughput of one node: workers divided by
// the mean time a request holds a worker, which the lookup dominates.
func (c Config) CapacityQPS() float64 {
	c = c.WithDefaults()
	return float64(c.Workers) / c.Lookup.Seconds()
}

// Flags are the parsed feature flags.
type Flags struct {
	// NewRanker is the share of users (0..1) answered by the new ranker.
	NewRanker float64
}

// ParseFlags reads "new-ranker=on", "new-ranker=off", "new-ranker=25%"
// (a bare "new-ranker" means on).
func ParseFlags(list []string) (Flags, error) {
	var f Flags
	for _, kv := range list {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			v = "on"
		}
		switch strings.TrimSpace(k) {
		case "new-ranker":
			share, err := parseShare(v)
			if err != nil {
				return f, fmt.Errorf("flags: new-ranker: %v", err)
			}
			f.NewRanker = share
		default:
			return f, fmt.Errorf("flags: unknown flag %q (known: new-ranker=on|off|25%%)", k)
		}
	}
	return f, nil
}

func parseShare(v string) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "1", "100%":
		return 1, nil
	case "off", "false", "0", "0%":
		return 0, nil
	}
	s := strings.TrimSpace(v)
	if !strings.HasSuffix(s, "%") {
		return 0, fmt.Errorf("%q: want on, off or a share such as 25%%", v)
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !(p >= 0 && p <= 100) {
		return 0, fmt.Errorf("%q: want a share between 0%% and 100%%", v)
	}
	return p / 100, nil
}

// maxP99Ratio is the largest p99/mean a lognormal distribution reaches
// (exp(z²/2) with z the 99th percentile of the standard normal).
var maxP99Ratio = math.Exp(z99 * z99 / 2)

const z99 = 2.3263478740408408

// lognormal draws lookup times with a given mean and 99th percentile.
type lognormal struct {
	mu, sigma float64
	cap       time.Duration
}

// newLognormal solves mean = exp(mu + σ²/2), p99 = exp(mu + z·σ) for mu, σ.
func newLognormal(mean, p99 time.Duration) lognormal {
	r := math.Log(float64(p99) / float64(mean))
	sigma := 0.0
	if r > 0 {
		disc := z99*z99 - 2*r
		if disc < 0 {
			disc = 0
		}
		sigma = z99 - math.Sqrt(disc)
	}
	mu := math.Log(float64(mean)) - sigma*sigma/2
	return lognormal{mu: mu, sigma: sigma, cap: 50 * mean}
}

func (l lognormal) draw(rng *rand.Rand) time.Duration {
	d := time.Duration(math.Exp(l.mu + l.sigma*rng.NormFloat64()))
	if d > l.cap {
		d = l.cap
	}
	return d
}
