// Package result owns the versioned result.json artifact that a run writes
// and that reports, compare, plan and merge read.
package result

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// SchemaV1 identifies the result document format.
const SchemaV1 = "bestbefore.result/v1"

// Run statuses.
const (
	StatusCompleted   = "completed"
	StatusInterrupted = "interrupted"
	StatusAborted     = "aborted"
)

// Error classes, as counted in Step.ErrorsByClass.
const (
	ClassTimeout       = "timeout"
	ClassRefused       = "refused"
	ClassReset         = "reset"
	ClassHTTP4xx       = "http_4xx"
	ClassHTTP5xx       = "http_5xx"
	ClassCheckFailed   = "check_failed"
	ClassDropped       = "dropped"
	ClassResponseLarge = "response_too_large"
	ClassHeaderLarge   = "header_too_large"
	ClassOther         = "other"
	// ClassStreamTimeout is a streamed response still open at the
	// request timeout: a stream that never ends, or never sends an event.
	ClassStreamTimeout = "stream_timeout"
)

// GRPCClasses are the error classes of a gRPC call's status, indexed by
// its code (1-16; 0 is OK): "grpc_" and the code's name in lower case, as
// gRPC's own documentation spells it (grpc_unavailable,
// grpc_deadline_exceeded, ...).
var GRPCClasses = [17]string{
	1: "grpc_cancelled", 2: "grpc_unknown", 3: "grpc_invalid_argument", 4: "grpc_deadline_exceeded",
	5: "grpc_not_found", 6: "grpc_already_exists", 7: "grpc_permission_denied", 8: "grpc_resource_exhausted",
	9: "grpc_failed_precondition", 10: "grpc_aborted", 11: "grpc_out_of_range", 12: "grpc_unimplemented",
	13: "grpc_internal", 14: "grpc_unavailable", 15: "grpc_data_loss", 16: "grpc_unauthenticated",
}

// ErrorClasses lists every error class a step can count, in the order
// result.schema.json lists them.
func ErrorClasses() []string {
	out := []string{ClassTimeout, ClassRefused, ClassReset, ClassHTTP4xx, ClassHTTP5xx, ClassCheckFailed, ClassDropped, ClassResponseLarge, ClassHeaderLarge, ClassOther, ClassStreamTimeout}
	return append(out, GRPCClasses[1:]...)
}

// Step phases.
const (
	PhaseRamp   = "ramp"
	PhaseRefine = "refine"
	PhaseHold   = "hold"
	// PhaseFixed is the one step of a fixed-rate run (run --rate): a rate
	// tried, not a search for the limit.
	PhaseFixed = "fixed"
)

// What limits a best-before besides an objective (BestBefore.LimitedBy).
const (
	// LimitedByMaxQPS: the ramp reached load.max_qps with every step
	// passing; the service may take more.
	LimitedByMaxQPS = "max_qps"
	// LimitedByInterrupted: an interrupt stopped the run before any step
	// failed; the figure is a lower bound.
	LimitedByInterrupted = "interrupted"
	// LimitedByFixedRate: a fixed-rate run held its one rate; the figure
	// is that rate, a lower bound.
	LimitedByFixedRate = "fixed_rate"
	// LimitedByGenerator: the generator, not the target, could not go on.
	LimitedByGenerator = "generator"
)

// Result is the whole document written to result.json.
type Result struct {
	Schema     string     `json:"schema"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	Manifest   Manifest   `json:"manifest"`
	Objectives Objectives `json:"objectives"`
	Steps      []Step     `json:"steps"`
	BestBefore BestBefore `json:"best_before"`
	Warnings   []string   `json:"warnings,omitempty"`
	// Errors is the run's error table (TabulateErrors of the steps).
	Errors []ErrorRow `json:"errors,omitempty"`
	// Shard is set on results written by `run --shard i/n`.
	Shard *Shard `json:"shard,omitempty"`
	// NodeLoss is set when capacity.node_loss.verify ran.
	NodeLoss *NodeLoss `json:"node_loss,omitempty"`
	// Capacity holds derived models (USL fit, knee) shown beside the
	// measured best-before; never a replacement for it.
	Capacity *CapacityModel `json:"capacity,omitempty"`
	// Sides holds the per-side results of a live A/B run (baseline, candidate).
	Sides map[string]*Result `json:"sides,omitempty"`
}

// Manifest records what produced the result, so it can be reproduced.
type Manifest struct {
	Tool          string            `json:"tool"`
	Version       string            `json:"version"`
	GoVersion     string            `json:"go_version"`
	OS            string            `json:"os"`
	Arch          string            `json:"arch"`
	CPUModel      string            `json:"cpu_model"`
	CPUs          int               `json:"cpus"`
	Hostname      string            `json:"hostname,omitempty"`
	Seed          int64             `json:"seed"`
	Scenario      string            `json:"scenario"`
	ScenarioSHA   string            `json:"scenario_sha256"`
	Traffic       string            `json:"traffic"`
	TrafficSHA    string            `json:"traffic_sha256"`
	Overrides     []string          `json:"overrides,omitempty"`
	Targets       []string          `json:"targets"`
	Extra         map[string]string `json:"extra,omitempty"`
	EffectiveYAML string            `json:"effective_scenario,omitempty"`
}

// Objectives are the SLOs the steps were judged against, in plain units so
// that report, compare and merge can re-evaluate them without the
// scenario: each objective's bound by catalogue key (latency.p99,
// error_rate, ...) in the objective's unit (Objective.Unit). An objective
// not in the map is not in force. result.json writes them at each entry's
// Doc path ({"latency_ms": {"p99": 100}, "error_rate": 0.001}): see
// MarshalJSON.
type Objectives map[string]float64

// Latency is a set of percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Step is one constant-rate interval of the ramp (or a refinement or hold step).
type Step struct {
	Index      int       `json:"index"`
	Phase      string    `json:"phase"`
	OfferedQPS float64   `json:"offered_qps"`
	StartedAt  time.Time `json:"started_at"`
	// DurationS is the measured window (step duration less warmup), seconds.
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	// AchievedQPS is the rate of successful responses completed within
	// the measured window (goodput).
	AchievedQPS float64 `json:"achieved_qps"`
	// SentQPS is the rate this generator was scheduled to send; it differs
	// from OfferedQPS on a shard, which sends a share of the step.
	SentQPS float64 `json:"sent_qps,omitempty"`
	// ScheduledQPS is the rate of the arrivals actually scheduled in the
	// measured window (Requests ÷ DurationS). It differs from SentQPS by
	// the randomness of Poisson and bursty arrivals: a window of 1.5 s at
	// 100 QPS holds 150 ± 12 Poisson arrivals. Throughput is judged
	// against it, never against the nominal rate.
	ScheduledQPS float64 `json:"scheduled_qps,omitempty"`
	// Requests counts requests due in the measured window, dropped ones included.
	Requests      int64            `json:"requests"`
	Successes     int64            `json:"successes"`
	Errors        int64            `json:"errors"`
	ErrorRate     float64          `json:"error_rate"`
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
	// ErrorKinds breaks the errors down by class and HTTP status, most
	// frequent first, each with a sample message.
	ErrorKinds []ErrorKind `json:"error_kinds,omitempty"`
	// Endpoints breaks the step down by endpoint: the traffic's most
	// frequent method and path templates, the rest as "other".
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// LatencyMS is measured from each request's intended send time.
	LatencyMS Latency `json:"latency_ms"`
	// ServiceTimeMS is measured from the actual send time.
	ServiceTimeMS Latency `json:"service_time_ms"`
	// InFlightMean is the mean number of requests in flight, sampled.
	InFlightMean float64 `json:"in_flight_mean"`
	InFlightMax  int64   `json:"in_flight_max"`
	// LittleConcurrency is achieved_qps × mean latency (Little's law).
	LittleConcurrency float64 `json:"little_concurrency"`
	SLOPass           bool    `json:"slo_pass"`
	// Failed names the objectives this step broke (e.g. "latency.p99", "error_rate").
	Failed []string `json:"failed,omitempty"`
	// Remeasured is set on a step that broke only queue objectives
	// (steady, throughput) and was measured again at the same rate: the
	// next step at that rate judged both together and holds the verdict.
	Remeasured bool `json:"remeasured,omitempty"`
	// Partial is set on a step an interrupt cut short: its figures cover
	// the part of the window that ran (duration_s), and it neither sets
	// nor limits the best-before.
	Partial   bool             `json:"partial,omitempty"`
	Generator Generator        `json:"generator"`
	Target    *TargetResources `json:"target,omitempty"`
	Host      *Host            `json:"host,omitempty"`
	Warnings  []string         `json:"warnings,omitempty"`
	Histogram string           `json:"histogram"`
	// ServiceHistogram is the service-time histogram, same encoding.
	ServiceHistogram string `json:"service_histogram,omitempty"`
	// Intervals are per-second histograms of the measured window, the samples
	// that compare's statistics work on.
	Intervals []Interval `json:"intervals,omitempty"`
	// Trend splits the measured window into equal slices by intended
	// send time (ten), each with the latency histogram of the requests
	// due in it: what the steady-state objective reads.
	Trend []Interval `json:"trend,omitempty"`
	// Stream is what the step's streamed responses measured; absent when
	// none streamed.
	Stream *Stream `json:"stream,omitempty"`
	// GoodRequests counts the requests due in the window that met every
	// per-request bound (goodput.ttft, goodput.tpot, goodput.latency);
	// absent when none is set.
	GoodRequests *int64 `json:"good_requests,omitempty"`
}

// Stream is what a step measured of its streamed responses (server-sent
// events, newline-delimited JSON): the successful ones due in the
// measured window.
type Stream struct {
	Responses int64 `json:"responses"`
	// TTFTMS is the time to first token from each request's intended
	// send time; TTFTFromSendMS from its actual send, which leaves out
	// the generator's own backlog (the difference shows it).
	TTFTMS         Latency `json:"ttft_ms"`
	TTFTFromSendMS Latency `json:"ttft_from_send_ms"`
	// ITLMS is the gaps between consecutive output events; TPOTMS each
	// response's time per output token after the first.
	ITLMS  Latency `json:"itl_ms"`
	TPOTMS Latency `json:"tpot_ms"`
	// OutputTokens counts the responses' output tokens; TokensFrom says
	// where the counts came from: "usage" (the server's usage object),
	// "events" (one token an output event) or "mixed".
	OutputTokens int64  `json:"output_tokens"`
	TokensFrom   string `json:"tokens_from"`
	// OutputTokensPerS is the output tokens of the successful streamed
	// responses completed inside the window, per second: the token
	// throughput the target delivered.
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	// The histograms, in the encoding of Step.Histogram (microseconds).
	TTFTHistogram         string `json:"ttft_histogram"`
	TTFTFromSendHistogram string `json:"ttft_from_send_histogram"`
	ITLHistogram          string `json:"itl_histogram"`
	TPOTHistogram         string `json:"tpot_histogram"`
}

// Endpoint is what a step measured of one endpoint group: its requests
// due in the measured window, their errors and latency (from the intended
// send time), as for the step itself.
type Endpoint struct {
	// Name is the method and path template ("GET /v1/items/{id}"), or
	// "other" for every endpoint not named.
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	// Histogram holds the group's latencies, empty when every request
	// was dropped.
	Histogram string `json:"histogram,omitempty"`
}

// SetLatency records h as the group's latency: its p50, p99 and encoded
// histogram (left empty when h holds nothing).
func (e *Endpoint) SetLatency(h *hdrhistogram.Histogram) error {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	e.P50MS, e.P99MS = stats.QuantileMS(h, 50), stats.QuantileMS(h, 99)
	var err error
	e.Histogram, err = stats.Encode(h)
	return err
}

// Interval is a slice of a step (one second by default).
type Interval struct {
	OffsetS  float64 `json:"offset_s"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// InFlightMean is the mean number of requests in flight at the sends
	// due in the interval; SendLagMaxMS the longest any of them waited
	// past its intended send time. Intervals only, not trend slices.
	InFlightMean float64 `json:"in_flight_mean,omitempty"`
	SendLagMaxMS float64 `json:"send_lag_max_ms,omitempty"`
	Histogram    string  `json:"histogram"`
}

// Generator describes the load generator's own health during a step.
type Generator struct {
	CPUPercent   float64 `json:"cpu_percent"`
	RSSMB        float64 `json:"rss_mb"`
	Goroutines   int     `json:"goroutines,omitempty"`
	GCPauseP99MS float64 `json:"gc_pause_p99_ms,omitempty"`
	SendLagP50MS float64 `json:"send_lag_p50_ms"`
	SendLagP99MS float64 `json:"send_lag_p99_ms"`
	SendLagMaxMS float64 `json:"send_lag_max_ms"`
	LateSends    int64   `json:"late_sends"`
	// StallP50MS, StallP99MS and StallMaxMS say how long the generator's
	// process was kept from running over the measured window: how late a
	// 1 ms wake-up came, time-weighted (other processes on its cores, the
	// Go scheduler, a pause). Absent when nothing watched (a simulation).
	StallP50MS   float64 `json:"stall_p50_ms,omitempty"`
	StallP99MS   float64 `json:"stall_p99_ms,omitempty"`
	StallMaxMS   float64 `json:"stall_max_ms,omitempty"`
	Saturated    bool    `json:"saturated"`
	SaturatedWhy string  `json:"saturated_reason,omitempty"`
}

// TargetResources are the service's resources during a step: CPU,
// memory and GC pauses of its nodes.
type TargetResources struct {
	CPUPercent    float64            `json:"cpu_percent"`
	MaxCPUPercent float64            `json:"max_node_cpu_percent,omitempty"`
	RSSMB         float64            `json:"rss_mb"`
	HeapMB        float64            `json:"heap_mb,omitempty"`
	GCCyclesPerS  float64            `json:"gc_cycles_per_s,omitempty"`
	GCPauseP99MS  float64            `json:"gc_pause_p99_ms,omitempty"`
	Threads       int32              `json:"threads,omitempty"`
	OpenFiles     int32              `json:"open_files,omitempty"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
}

// Host describes the machine the generator runs on during a step.
type Host struct {
	CPUPercent        float64   `json:"cpu_percent"`
	CPUPerCorePercent []float64 `json:"cpu_per_core_percent,omitempty"`
	MemUsedMB         float64   `json:"mem_used_mb"`
	Load1             float64   `json:"load1"`
}

// BestBefore is the headline: the highest rate that met every objective.
type BestBefore struct {
	Found      bool    `json:"found"`
	QPS        float64 `json:"qps"`
	NMinus1QPS float64 `json:"n_minus_1_qps"`
	// OutputTokensPerS is the best-before in output tokens per second
	// when the service streams tokens: the best-before rate times the
	// output tokens a response held at the step that set it;
	// NMinus1OutputTokensPerS the same after losing a node.
	OutputTokensPerS        float64 `json:"output_tokens_per_s,omitempty"`
	NMinus1OutputTokensPerS float64 `json:"n_minus_1_output_tokens_per_s,omitempty"`
	Nodes                   int     `json:"nodes"`
	SafetyMargin            float64 `json:"safety_margin"`
	// LimitedBy names the objective that failed first above the best-before
	// (e.g. "latency.p99"), or what else ended the search when nothing
	// failed: "max_qps", "interrupted", "fixed_rate" or "generator"
	// (the LimitedBy constants).
	LimitedBy string `json:"limited_by"`
	// Step is the index of the step that set the best-before, -1 if none.
	Step int `json:"step"`
	// FirstFailQPS is the lowest rate that failed, 0 if none did.
	FirstFailQPS float64 `json:"first_fail_qps,omitempty"`
	// FirstFailStep is the position in Steps of the lowest failing step
	// that broke an objective, -1 if none did; not written.
	FirstFailStep int `json:"-"`
	// Why says, when a rule other than "the highest passing step" set
	// the figure, which rule and the numbers it used: a pass above it was
	// too close to the failure to resolve, above the goodput the failing
	// step delivered, or at a rate the generator could not keep.
	Why string `json:"why,omitempty"`
}

// Shard marks a result written by one of several generators.
type Shard struct {
	Index      int       `json:"index"`
	Count      int       `json:"count"`
	Plan       string    `json:"plan_fingerprint"`
	StartAt    time.Time `json:"start_at"`
	MergedFrom []string  `json:"merged_from,omitempty"`
}

// NodeLoss records a verified node-loss hold step.
type NodeLoss struct {
	QPS            float64         `json:"qps"`
	Node           string          `json:"node"`
	LostAtS        float64         `json:"lost_at_s"`
	Held           bool            `json:"held"`
	TransitionErrs int64           `json:"transition_errors"`
	RecoverS       *float64        `json:"time_to_recover_s"`
	Never          bool            `json:"never_recovered"`
	Step           int             `json:"step"`
	Timeline       []TimelinePoint `json:"timeline,omitempty"`
	Restored       bool            `json:"restored"`
	Notes          []string        `json:"notes,omitempty"`
}

// TimelinePoint is one slice of the node-loss timeline.
type TimelinePoint struct {
	OffsetS  float64 `json:"offset_s"`
	P99MS    float64 `json:"p99_ms"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
}

// CapacityModel holds models fitted to the steps.
type CapacityModel struct {
	USL  *USL  `json:"usl,omitempty"`
	Knee *Knee `json:"knee,omitempty"`
}

// USL is a Universal Scalability Law fit: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
type USL struct {
	Sigma           float64  `json:"sigma"`
	Kappa           float64  `json:"kappa"`
	Lambda          float64  `json:"lambda"`
	R2              float64  `json:"r2"`
	PeakQPS         float64  `json:"peak_qps"`
	PeakConcurrency float64  `json:"peak_concurrency"`
	Warnings        []string `json:"warnings,omitempty"`
}

// Knee is where p99 starts to climb steeply.
type Knee struct {
	QPS   float64 `json:"qps"`
	P99MS float64 `json:"p99_ms"`
	Step  int     `json:"step"`
}

// ErrCorrupt is returned by Read for documents that are not valid results.
var ErrCorrupt = errors.New("result: not a valid bestbefore result")

// Read loads a result.json file. A path that is not a regular file (a
// device such as /dev/zero, a FIFO, a directory) or holds more than
// MaxDocumentBytes is refused before any of it is read.
func Read(path string) (*Result, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// MaxDocumentBytes bounds what Decode reads: a result with per-interval
// histograms of a day-long soak is tens of megabytes; 256 MiB leaves
// room and keeps a reader's memory bounded (the document, then its
// decoded form).
const MaxDocumentBytes = 256 << 20

// ErrNotAFile is a result path that is not a regular file.
var ErrNotAFile = errors.New("not a regular file")

// Open opens a result file to read, refusing what is not a regular file
// (checked before opening: opening a FIFO would wait for a writer) or is
// larger than MaxDocumentBytes.
func Open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		hint := "give a result.json file"
		if in := filepath.Join(path, "result.json"); fileExists(in) {
			hint = "give " + in
		}
		return nil, fmt.Errorf("%s: %w (a directory): %s", path, ErrNotAFile, hint)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s): give a result.json file", path, ErrNotAFile, st.Mode().Type())
	}
	if st.Size() > MaxDocumentBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the %d MiB a result may be", path, ErrCorrupt, st.Size(), MaxDocumentBytes>>20)
	}
	return os.Open(path)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Decode reads a result document and checks it as every reader must: the
// JSON Schema (every property typed), then the invariants a schema cannot
// state (Check). The error names the field.
func Decode(rd io.Reader) (*Result, error) {
	b, err := io.ReadAll(io.LimitReader(rd, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, MaxDocumentBytes)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	// The marker first: a file of another version or kind is named as
	// such, not as a list of schema violations.
	m, _ := doc.(map[string]any)
	marker, _ := m["schema"].(string)
	if marker != SchemaV1 {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrCorrupt, marker, SchemaV1)
	}
	if err := validate(doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := Check(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &r, nil
}

// Write stores r at path atomically: a temporary file in the same
// directory, synced, then renamed over path. A failed write leaves no
// partial file behind.
func Write(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temporary file and rename.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
