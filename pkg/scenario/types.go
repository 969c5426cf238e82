// Package scenario reads, validates and overrides scenario files: what to
// load, how hard, and what counts as meeting the objectives.
package scenario

import "time"

// Scenario is a whole scenario file after defaults are applied.
type Scenario struct {
	Name     string   `yaml:"name"`
	Target   Target   `yaml:"target"`
	Traffic  Traffic  `yaml:"traffic"`
	Load     LoadSpec `yaml:"load"`
	SLO      SLO      `yaml:"slo"`
	Checks   []Check  `yaml:"checks"`
	Capacity Capacity `yaml:"capacity"`
	Monitor  Monitor  `yaml:"monitor"`
	AbortOn  *AbortOn `yaml:"abort_on"`
	Gate     *Gate    `yaml:"gate"`
	Seed     int64    `yaml:"seed"`
	Limits   Limits   `yaml:"limits"`

	// Path is the file the scenario was read from ("" when embedded).
	Path string `yaml:"-"`
	// Dir is the directory relative paths resolve against.
	Dir string `yaml:"-"`
	// Source is the raw bytes of the scenario file as read.
	Source []byte `yaml:"-"`
	// Overrides are the --set key=value pairs applied.
	Overrides []string `yaml:"-"`
	// lines maps a dotted key to the line it was set on, for errors.
	lines map[string]int
}

// Target says where requests go.
type Target struct {
	URL     string   `yaml:"url"`
	URLs    []string `yaml:"urls"`
	Bundled *Bundled `yaml:"bundled"`
	// Baseline and Candidate make a live A/B run: the same traffic is sent
	// to both, interleaved request by request.
	Baseline  *Target `yaml:"baseline"`
	Candidate *Target `yaml:"candidate"`
	// MaxResponseBytes bounds how much of a response body is read; more is
	// an error of class response_too_large. Default 10 MiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
	// Protocol is how requests are spoken: http1 (the default), h2
	// (HTTP/2 over TLS, negotiated by ALPN: https:// URLs) or h2c
	// (HTTP/2 without TLS, by prior knowledge: http:// URLs). It applies
	// to every URL of the target, both sides of an A/B run included. For
	// the bundled service, grpc speaks gRPC to it (the Open Inference
	// Protocol); a URL says grpc:// itself.
	Protocol string `yaml:"protocol"`
	// CAFile is a PEM file of the certificate authorities an https://
	// target's certificate must chain to, instead of the system's (an
	// internal CA, a test certificate); relative to the scenario.
	CAFile string `yaml:"ca_file"`
	// GRPC says where a grpc:// or grpcs:// target's descriptors come
	// from.
	GRPC *GRPC `yaml:"grpc"`
	// Connections is how many connections each target URL's requests are
	// multiplexed over, for the protocols that multiplex (h2, h2c, gRPC),
	// used in turn; 0: for h2 and h2c one (net/http opens more when the
	// server's stream limit is reached), for gRPC as many as the calls in
	// flight need, Streams each. HTTP/1.1 has one connection per request
	// in flight (bounded by load.max_in_flight).
	Connections int `yaml:"connections"`
	// Streams is, for gRPC, the most calls in flight on one connection
	// before the next is opened (default 100, what most servers allow).
	Streams int `yaml:"streams"`
	// Stream says which response bodies are read as a stream of events,
	// timing the first token and the gaps between tokens: auto (the
	// default) those the server sends as text/event-stream (server-sent
	// events, as OpenAI-compatible servers stream completions); ndjson
	// also newline-delimited JSON, a line an event; off none.
	Stream string `yaml:"stream"`
}

// GRPC is target.grpc. Without protoset or proto, the descriptors are
// asked of the server's reflection service before the run.
type GRPC struct {
	// Protoset is a FileDescriptorSet (protoc --descriptor_set_out
	// --include_imports); relative to the scenario.
	Protoset string `yaml:"protoset"`
	// Proto are .proto files, found in ImportPaths (default: the
	// scenario's directory); the well-known types are built in.
	Proto       []string `yaml:"proto"`
	ImportPaths []string `yaml:"import_paths"`
}

// Bundled starts the bundled reference prediction service for the run.
type Bundled struct {
	Nodes     int      `yaml:"nodes"`
	Workers   int      `yaml:"workers"`
	Lookup    Duration `yaml:"lookup"`
	LookupP99 Duration `yaml:"lookup_p99"`
	Cache     int      `yaml:"cache"`
	Flags     []string `yaml:"flags"`
	Queue     int      `yaml:"queue"`
	// Batch shapes the dynamic batcher of the service's Open Inference
	// Protocol model (target.protocol: grpc speaks it over gRPC; its REST
	// form is /v2/models/scorer/infer).
	Batch *BundledBatch `yaml:"batch"`
	// LLM shapes the simulated language model behind the service's
	// OpenAI-compatible completion endpoints (/v1/completions,
	// /v1/chat/completions), served with continuous batching.
	LLM *BundledLLM `yaml:"llm"`
}

// BundledLLM is target.bundled.llm: each decoding iteration gives every
// running request a token and costs iter_base + iter_per_request ×
// (running requests) + prefill_per_token × (prompt tokens joining); at
// most max_running requests run while their prompts and max_tokens fit
// token_budget (the KV cache); queue more wait, the rest are refused.
type BundledLLM struct {
	MaxRunning      int      `yaml:"max_running"`
	TokenBudget     int      `yaml:"token_budget"`
	IterBase        Duration `yaml:"iter_base"`
	IterPerRequest  Duration `yaml:"iter_per_request"`
	PrefillPerToken Duration `yaml:"prefill_per_token"`
	Queue           int      `yaml:"queue"`
	MaxTokens       int      `yaml:"max_tokens"`
}

// BundledBatch is target.bundled.batch: a batch of up to max_batch rows
// is gathered for at most max_queue_delay after its first request, then
// takes batch_cost + row_cost × rows; instances run batches at once.
type BundledBatch struct {
	MaxBatch      int      `yaml:"max_batch"`
	MaxQueueDelay Duration `yaml:"max_queue_delay"`
	BatchCost     Duration `yaml:"batch_cost"`
	RowCost       Duration `yaml:"row_cost"`
	Instances     int      `yaml:"instances"`
	Queue         int      `yaml:"queue"`
}

// Traffic says which requests to send.
type Traffic struct {
	File   string  `yaml:"file"`
	Order  string  `yaml:"order"`  // sequential | shuffle
	Timing string  `yaml:"timing"` // rate | recorded
	Speed  float64 `yaml:"speed"`
}

// Load is the ramp.
type LoadSpec struct {
	Arrival string `yaml:"arrival"` // constant | poisson | bursty
	// Burstiness is the gamma shape of bursty arrivals' gaps (default
	// 0.5): 1 is Poisson, below 1 burstier.
	Burstiness        float64  `yaml:"burstiness,omitempty"`
	StartQPS          float64  `yaml:"start_qps"`
	StepQPS           float64  `yaml:"step_qps"`
	MaxQPS            float64  `yaml:"max_qps"`
	StepDuration      Duration `yaml:"step_duration"`
	Warmup            Duration `yaml:"warmup"`
	Refine            int      `yaml:"refine"`
	StopAfterFailures int      `yaml:"stop_after_failures"`
	Timeout           Duration `yaml:"timeout"`
	MaxInFlight       int      `yaml:"max_in_flight"`
	// Steps, when set, replaces the start/step/max ramp by an explicit list.
	Steps []float64 `yaml:"steps"`
	// Interval is the length of the per-interval histograms (default 1s).
	Interval Duration `yaml:"interval"`
}

// Check is an invariant every response must keep. Exactly one kind is set
// per entry, or several that must all hold.
type Check struct {
	Status   *StatusCheck `yaml:"status"`    // 200, or recorded
	Header   string       `yaml:"header"`    // header that must be present
	HeaderIs string       `yaml:"equals"`    // with header: the value it must have
	JSONPath string       `yaml:"json"`      // dotted path that must exist, e.g. predictions.0.id
	MinItems *int         `yaml:"min_items"` // with json: the array must hold at least N items
	BodyHas  string       `yaml:"contains"`  // substring the body must contain
}

// Capacity describes the cluster for N-1 arithmetic.
type Capacity struct {
	Nodes        int       `yaml:"nodes"`
	SafetyMargin *float64  `yaml:"safety_margin"`
	NodeLoss     *NodeLoss `yaml:"node_loss"`
}

// NodeLoss configures a verified node-loss step after the ramp.
type NodeLoss struct {
	Verify         bool     `yaml:"verify"`
	Command        string   `yaml:"command"`
	RestoreCommand string   `yaml:"restore_command"`
	Duration       Duration `yaml:"duration"`
	At             *Ratio   `yaml:"at"`   // share of the step at which the node is lost (default 50%)
	QPS            float64  `yaml:"qps"`  // hold rate; default: N-1 rate before the safety margin
	Node           int      `yaml:"node"` // which bundled node to kill (default last)
}

// Monitor configures resource sampling.
type Monitor struct {
	Interval    Duration `yaml:"interval"`
	PIDs        []int32  `yaml:"pids"`
	ProcessName string   `yaml:"process_name"`
	MetricsURL  string   `yaml:"metrics_url"`
	MetricsURLs []string `yaml:"metrics_urls"`
	// Metrics names extra counters, gauges or histograms to record per step.
	Metrics []string `yaml:"metrics"`
	// MaxSendLag is the send lag p99 above which a step is saturated
	// (default: 1 ms, or a tenth of the tightest latency objective). The
	// pacer gathers requests due within half of it, at most 500 µs.
	MaxSendLag Duration `yaml:"max_send_lag"`
	Disabled   bool     `yaml:"disabled"`
}

// AbortOn stops the run early when the target is clearly overwhelmed.
type AbortOn struct {
	ErrorRate *Ratio    `yaml:"error_rate"`
	P99       *Duration `yaml:"p99"`
	For       int       `yaml:"for"`
}

// Gate holds regression thresholds for `compare`.
type Gate struct {
	MaxP99Increase       *Ratio  `yaml:"max_p99_increase"`
	MaxP50Increase       *Ratio  `yaml:"max_p50_increase"`
	MaxP999Increase      *Ratio  `yaml:"max_p999_increase"`
	MaxTTFTP99Increase   *Ratio  `yaml:"max_ttft_p99_increase"`
	MaxITLP99Increase    *Ratio  `yaml:"max_itl_p99_increase"`
	MaxBestBeforeDrop    *Ratio  `yaml:"max_best_before_drop"`
	MaxErrorRateIncrease *Ratio  `yaml:"max_error_rate_increase"`
	Alpha                float64 `yaml:"alpha"`
}

// Limits are safety rails on the run as a whole.
type Limits struct {
	MaxDuration Duration `yaml:"max_duration"`
}

// Duration is a time.Duration written as "250ms" or "5s" in YAML.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Ratio is a share written as "0.1%" or 0.001 in YAML.
type Ratio float64
