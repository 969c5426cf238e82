package scenario

import (
	"crypto/x509"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/pace"
)

// problems collects what is wrong with a section, by dotted field.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, problemf(field, format, args...))
}

// ratio checks a share is between 0% and 100%.
func (ps *problems) ratio(field string, r *Ratio) {
	if r != nil && (*r < 0 || *r > 1 || math.IsNaN(float64(*r))) {
		ps.add(field, "must be between 0%% and 100%%, got %v%%", float64(*r)*100)
	}
}

// Validate checks values that decode but make no sense: each section
// checks its own (a new target protocol or load shape brings its own
// validate), then the rules that tie sections together; every problem is
// located by file, line and field.
func (s *Scenario) Validate() Errors {
	var ps problems
	ps = append(ps, s.Target.validate()...)
	ps = append(ps, s.Traffic.validate()...)
	ps = append(ps, s.Load.validate()...)
	ps = append(ps, s.SLO.validate()...)
	for i, c := range s.Checks {
		ps = append(ps, c.validate(fmt.Sprintf("checks.%d", i))...)
	}
	ps = append(ps, s.Capacity.validate()...)
	if s.AbortOn != nil {
		ps = append(ps, s.AbortOn.validate()...)
	}
	ps = append(ps, s.Monitor.validate()...)
	ps = append(ps, s.Limits.validate()...)
	ps = append(ps, s.across()...)
	var errs Errors
	for _, p := range ps {
		errs = append(errs, s.errf(p.Field, "%s", p.Msg))
	}
	return errs
}

// across checks the rules that tie two sections together.
func (s *Scenario) across() problems {
	var ps problems
	t := s.Target
	if t.CAFile != "" {
		if _, err := t.RootCAs(s.Resolve); err != nil {
			ps.add("target.ca_file", "%v", err)
		}
	}
	if n := s.Capacity.NodeLoss; n != nil && n.Verify {
		if t.Baseline != nil || t.Candidate != nil {
			ps.add("capacity.node_loss", "node-loss verification is not available in a live A/B run")
		}
		if s.Capacity.Nodes < 2 {
			ps.add("capacity.node_loss", "node loss needs at least 2 nodes")
		}
		if t.Bundled == nil && n.Command == "" {
			ps.add("capacity.node_loss.command", "required for a target that is not bundled: the command that takes a node out")
		}
	}
	return ps
}

// validate checks target: exactly one kind of target, URLs the guard
// and the wire can take, headers a request may carry, a bundled
// service's sizes; for an A/B pair, each side.
func (t *Target) validate() problems {
	var ps problems
	nTargets := 0
	if t.URL != "" {
		nTargets++
	}
	if len(t.URLs) > 0 {
		nTargets++
	}
	if t.Bundled != nil {
		nTargets++
	}
	if t.Baseline != nil || t.Candidate != nil {
		nTargets++
		if t.Baseline == nil || t.Candidate == nil {
			ps.add("target", "a live A/B run needs both baseline and candidate")
		}
		for name, side := range map[string]*Target{"baseline": t.Baseline, "candidate": t.Candidate} {
			if side == nil {
				continue
			}
			n := 0
			for _, set := range []bool{side.URL != "", len(side.URLs) > 0, side.Bundled != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				ps.add("target."+name, "set exactly one of url, urls or bundled")
			}
			if side.Baseline != nil || side.Candidate != nil {
				ps.add("target."+name, "a side cannot itself be an A/B pair")
			}
			ps = append(ps, side.urlProblems("target."+name)...)
		}
	}
	switch {
	case nTargets == 0:
		ps.add("target", "set one of url, urls or bundled")
	case nTargets > 1:
		ps.add("target", "set only one of url, urls, bundled or baseline/candidate")
	}
	ps = append(ps, t.urlProblems("target")...)
	for _, side := range []struct {
		t      *Target
		prefix string
	}{{t, "target"}, {t.Baseline, "target.baseline"}, {t.Candidate, "target.candidate"}} {
		if side.t != nil {
			ps = append(ps, side.t.headerProblems(side.prefix+".headers")...)
		}
	}
	if b := t.Bundled; b != nil {
		if b.Nodes < 1 || b.Nodes > 64 {
			ps.add("target.bundled.nodes", "must be between 1 and 64, got %d", b.Nodes)
		}
		if b.Workers < 0 || b.Workers > MaxBundledWorkers {
			ps.add("target.bundled.workers", "must be between 0 (the default, %d) and %d, got %d", 8, MaxBundledWorkers, b.Workers)
		}
		if b.Queue < 0 || b.Queue > MaxBundledQueue {
			ps.add("target.bundled.queue", "must be between 0 (the default, 4 × workers) and %d, got %d", MaxBundledQueue, b.Queue)
		}
		if bb := b.Batch; bb != nil {
			if bb.MaxBatch < 0 || bb.MaxBatch > 4096 {
				ps.add("target.bundled.batch.max_batch", "must be between 0 (the default, 8) and 4096, got %d", bb.MaxBatch)
			}
			if d := bb.MaxQueueDelay.D(); d < 0 || d > time.Second {
				ps.add("target.bundled.batch.max_queue_delay", "must be between 0 and 1s, got %v", d)
			}
			for field, d := range map[string]time.Duration{"batch_cost": bb.BatchCost.D(), "row_cost": bb.RowCost.D()} {
				if d < 0 || d > time.Minute {
					ps.add("target.bundled.batch."+field, "must be between 0 and 1m, got %v", d)
				}
			}
			if bb.Instances < 0 || bb.Instances > 1024 {
				ps.add("target.bundled.batch.instances", "must be between 0 (the default, 1) and 1024, got %d", bb.Instances)
			}
			if bb.Queue < 0 || bb.Queue > MaxBundledQueue {
				ps.add("target.bundled.batch.queue", "must be between 0 (the default, 64 × max_batch) and %d, got %d", MaxBundledQueue, bb.Queue)
			}
		}
		if l := b.LLM; l != nil {
			if l.MaxRunning < 0 || l.MaxRunning > 4096 {
				ps.add("target.bundled.llm.max_running", "must be between 0 (the default, 32) and 4096, got %d", l.MaxRunning)
			}
			if l.TokenBudget < 0 || l.TokenBudget == 1 || l.TokenBudget > 1<<24 {
				ps.add("target.bundled.llm.token_budget", "must be 0 (the default, 16384) or between 2 and %d, got %d", 1<<24, l.TokenBudget)
			}
			for field, d := range map[string]time.Duration{"iter_base": l.IterBase.D(), "iter_per_request": l.IterPerRequest.D(), "prefill_per_token": l.PrefillPerToken.D()} {
				if d < 0 || d > time.Minute {
					ps.add("target.bundled.llm."+field, "must be between 0 and 1m, got %v", d)
				}
			}
			if l.Queue < 0 || l.Queue > MaxBundledQueue {
				ps.add("target.bundled.llm.queue", "must be between 0 (the default, 8 × max_running) and %d, got %d", MaxBundledQueue, l.Queue)
			}
			if l.MaxTokens < 0 || l.MaxTokens > 4096 {
				ps.add("target.bundled.llm.max_tokens", "must be between 0 (the default, 32) and 4096, got %d", l.MaxTokens)
			}
		}
	}
	if t.MaxResponseBytes < 0 {
		ps.add("target.max_response_bytes", "must not be negative")
	}
	ps = append(ps, t.protocolProblems()...)
	ps = append(ps, t.grpcProblems()...)
	return ps
}

// urls lists every URL of the target, both sides of an A/B run included.
func (t *Target) urls() []string {
	var urls []string
	for _, side := range []*Target{t, t.Baseline, t.Candidate} {
		if side != nil {
			if side.URL != "" {
				urls = append(urls, side.URL)
			}
			urls = append(urls, side.URLs...)
		}
	}
	return urls
}

// ProtocolGRPC is target.protocol for a bundled service spoken to in gRPC.
const ProtocolGRPC = "grpc"

// grpcProblems checks target.grpc and that a target speaks one protocol:
// gRPC URLs are not mixed with HTTP ones, take no target.protocol, and
// the bundled service is not one.
func (t *Target) grpcProblems() problems {
	var ps problems
	grpcs, https := 0, 0
	for _, u := range t.urls() {
		if p, err := h1.ParseBase(u); err == nil {
			if h1.IsGRPC(p) {
				grpcs++
			} else {
				https++
			}
		}
	}
	if grpcs > 0 && https > 0 {
		ps.add("target", "mixes gRPC and HTTP URLs: a run speaks one protocol")
	}
	if grpcs > 0 && t.Protocol != "" {
		ps.add("target.protocol", "does not apply to grpc:// URLs (gRPC is HTTP/2 already)")
	}
	if t.Connections < 0 || t.Connections > 1024 {
		ps.add("target.connections", "must be between 0 (the protocol's default) and 1024, got %d", t.Connections)
	} else if t.Connections > 0 && grpcs == 0 && t.Protocol != h1.ProtocolH2 && t.Protocol != h1.ProtocolH2C && t.Protocol != ProtocolGRPC {
		ps.add("target.connections", "applies to h2, h2c and gRPC, which multiplex requests over connections: HTTP/1.1 has one a request in flight (load.max_in_flight bounds them)")
	}
	if t.Streams < 0 || t.Streams > 100000 {
		ps.add("target.streams", "must be between 0 (the default, 100) and 100000, got %d", t.Streams)
	} else if t.Streams > 0 && grpcs == 0 && t.Protocol != ProtocolGRPC {
		ps.add("target.streams", "applies to gRPC targets (for h2 the server's own stream limit applies)")
	}
	if t.Stream != "" && !slices.Contains(attack.StreamModes, t.Stream) {
		ps.add("target.stream", "must be one of %s, got %q", strings.Join(attack.StreamModes, ", "), t.Stream)
	}
	g := t.GRPC
	if g == nil {
		return ps
	}
	if grpcs == 0 {
		ps.add("target.grpc", "applies to grpc:// and grpcs:// URLs only")
	}
	if g.Protoset != "" && len(g.Proto) > 0 {
		ps.add("target.grpc", "set protoset or proto, not both")
	}
	if len(g.ImportPaths) > 0 && len(g.Proto) == 0 {
		ps.add("target.grpc.import_paths", "applies to proto files only")
	}
	for i, f := range g.Proto {
		if !strings.HasSuffix(f, ".proto") {
			ps.add(fmt.Sprintf("target.grpc.proto.%d", i), "%q is not a .proto file", f)
		}
	}
	return ps
}

// protocolProblems checks target.protocol against the target's URLs: h2
// is negotiated in TLS (https://), h2c spoken in the clear (http://); the
// bundled service speaks HTTP/1.1.
func (t *Target) protocolProblems() problems {
	var ps problems
	if t.Protocol == "" {
		return ps
	}
	if t.Protocol == ProtocolGRPC {
		if t.Bundled == nil {
			ps.add("target.protocol", "grpc is for the bundled service: a URL says grpc:// itself")
		}
		return ps
	}
	if !slices.Contains(h1.Protocols, t.Protocol) {
		return append(ps, problemf("target.protocol", "must be one of %s, %s (bundled), got %q", strings.Join(h1.Protocols, ", "), ProtocolGRPC, t.Protocol))
	}
	want := map[string]string{h1.ProtocolH2: "https", h1.ProtocolH2C: "http"}[t.Protocol]
	if want == "" {
		return ps
	}
	for _, side := range []*Target{t, t.Baseline, t.Candidate} {
		if side != nil && side.Bundled != nil && t.Protocol == h1.ProtocolH2 {
			ps.add("target.protocol", "h2: the bundled service speaks HTTP/1.1 and h2c, not TLS")
		}
	}
	for _, u := range t.urls() {
		// A URL that does not parse is reported by urlProblems.
		if p, err := h1.ParseBase(u); err == nil && !h1.IsGRPC(p) && p.Scheme != want {
			ps.add("target.protocol", "%s needs %s:// URLs (%s is %s://): h2 is negotiated in TLS, h2c spoken in the clear", t.Protocol, want, u, p.Scheme)
			break
		}
	}
	return ps
}

// RootCAs reads ca_file (resolved by resolve): the authorities an
// https:// target's certificate must chain to; nil when none is set.
func (t *Target) RootCAs(resolve func(string) string) (*x509.CertPool, error) {
	if t.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(resolve(t.CAFile))
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", t.CAFile)
	}
	return pool, nil
}

// urlProblems checks url and urls, named below prefix.
func (t *Target) urlProblems(prefix string) problems {
	var ps problems
	if t.URL != "" {
		if _, err := h1.ParseBase(t.URL); err != nil {
			ps.add(prefix+".url", "%v", err)
		}
	}
	for i, u := range t.URLs {
		if _, err := h1.ParseBase(u); err != nil {
			ps.add(fmt.Sprintf("%s.urls.%d", prefix, i), "%v", err)
		}
	}
	return ps
}

// headerProblems checks the headers a target adds, named below prefix.
func (t *Target) headerProblems(prefix string) problems {
	var ps problems
	names := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := h1.CheckHeaderName(k); err != nil {
			ps.add(prefix+"."+k, "%s", h1.Reason(err))
		} else if err := h1.CheckHeaderValue(t.Headers[k]); err != nil {
			ps.add(prefix+"."+k, "%s", h1.Reason(err))
		} else if h1.Reserved(k) {
			ps.add(prefix+"."+k, "%s is written by bestbefore itself (from the URL and the body) and cannot be set", http.CanonicalHeaderKey(k))
		}
	}
	return ps
}

// validate checks traffic.
func (t Traffic) validate() problems {
	var ps problems
	if t.File == "" {
		ps.add("traffic.file", "required: the NDJSON traffic file to replay")
	}
	switch t.Order {
	case "sequential", "shuffle":
	default:
		ps.add("traffic.order", "must be sequential or shuffle, got %q", t.Order)
	}
	switch t.Timing {
	case "rate", "recorded":
	default:
		ps.add("traffic.timing", "must be rate or recorded, got %q", t.Timing)
	}
	if t.Speed <= 0 || math.IsNaN(t.Speed) {
		ps.add("traffic.speed", "must be positive, got %v", t.Speed)
	}
	return ps
}

// validate checks load: the arrival process, the rates (a list of steps
// or a ramp) and the step's timing.
func (l LoadSpec) validate() problems {
	var ps problems
	if !slices.Contains(pace.Processes, l.Arrival) {
		ps.add("load.arrival", "must be one of %s, got %q", strings.Join(pace.Processes, ", "), l.Arrival)
	}
	switch {
	case l.Burstiness != 0 && l.Arrival != pace.ProcessBursty:
		ps.add("load.burstiness", "applies to arrival: bursty only (arrival is %s)", l.Arrival)
	case l.Burstiness < 0 || math.IsNaN(l.Burstiness) || l.Burstiness > 100:
		ps.add("load.burstiness", "must be a gamma shape above 0 and at most 100 (1 is Poisson, below 1 burstier), got %v", l.Burstiness)
	}
	if len(l.Steps) > 0 {
		ps = append(ps, l.stepProblems()...)
	} else {
		ps = append(ps, l.rampProblems()...)
	}
	if l.StepDuration.D() < 100*time.Millisecond {
		ps.add("load.step_duration", "must be at least 100ms, got %v", l.StepDuration.D())
	}
	if l.Warmup < 0 || l.Warmup >= l.StepDuration {
		ps.add("load.warmup", "must be between 0 and step_duration (%v), got %v", l.StepDuration.D(), l.Warmup.D())
	}
	if l.Refine < 0 || l.Refine > 20 {
		ps.add("load.refine", "must be between 0 and 20, got %d", l.Refine)
	}
	if l.StopAfterFailures < 1 {
		ps.add("load.stop_after_failures", "must be at least 1, got %d", l.StopAfterFailures)
	}
	if l.Timeout <= 0 {
		ps.add("load.timeout", "must be positive, got %v", l.Timeout.D())
	}
	if l.MaxInFlight < 1 {
		ps.add("load.max_in_flight", "must be at least 1, got %d", l.MaxInFlight)
	}
	if l.Interval <= 0 || l.Interval > l.StepDuration {
		ps.add("load.interval", "must be positive and at most step_duration, got %v", l.Interval.D())
	}
	return ps
}

// stepProblems checks an explicit list of step rates.
func (l LoadSpec) stepProblems() problems {
	var ps problems
	if len(l.Steps) > MaxSteps {
		ps.add("load.steps", "%d steps is more than the %d a ramp may hold", len(l.Steps), MaxSteps)
	}
	for i, q := range l.Steps {
		switch {
		case !(q > 0) || math.IsInf(q, 0):
			ps.add(fmt.Sprintf("load.steps.%d", i), "rate must be positive, got %v", q)
		case q > MaxQPS:
			ps.add(fmt.Sprintf("load.steps.%d", i), "%v is beyond what any generator can send (at most %v)", q, float64(MaxQPS))
		}
	}
	return ps
}

// rampProblems checks a ramp from start_qps by step_qps to max_qps.
func (l LoadSpec) rampProblems() problems {
	var ps problems
	if !(l.StartQPS > 0) || math.IsInf(l.StartQPS, 0) {
		ps.add("load.start_qps", "must be positive, got %v", l.StartQPS)
	}
	if l.StepQPS < 0 || math.IsNaN(l.StepQPS) {
		ps.add("load.step_qps", "must not be negative, got %v", l.StepQPS)
	}
	if l.MaxQPS < 0 || math.IsNaN(l.MaxQPS) {
		ps.add("load.max_qps", "must not be negative, got %v", l.MaxQPS)
	}
	if l.MaxQPS > 0 && l.MaxQPS < l.StartQPS {
		ps.add("load.max_qps", "%v is below start_qps %v", l.MaxQPS, l.StartQPS)
	}
	if l.MaxQPS == 0 {
		ps.add("load.max_qps", "required: the ramp's upper bound")
	}
	if l.MaxQPS > MaxQPS {
		ps.add("load.max_qps", "%v is beyond what any generator can send (at most %v)", l.MaxQPS, float64(MaxQPS))
	}
	if l.StepQPS > 0 && l.MaxQPS <= MaxQPS && (l.MaxQPS-l.StartQPS)/l.StepQPS >= MaxSteps {
		ps.add("load.step_qps", "%v from %v to %v makes more than the %d steps a ramp may hold", l.StepQPS, l.StartQPS, l.MaxQPS, MaxSteps)
	}
	return ps
}

// validate checks one check, named f (checks.N).
func (c Check) validate(f string) problems {
	var ps problems
	if c.Status == nil && c.Header == "" && c.JSONPath == "" && c.BodyHas == "" {
		ps.add(f, "a check needs status, header, json or contains")
	}
	if c.Status != nil && !c.Status.Recorded && (c.Status.Code < 100 || c.Status.Code > 599) {
		ps.add(f+".status", "must be an HTTP status (100-599) or recorded, got %d", c.Status.Code)
	}
	if c.MinItems != nil && c.JSONPath == "" {
		ps.add(f+".min_items", "needs json: the path of the array")
	}
	if c.HeaderIs != "" && c.Header == "" {
		ps.add(f+".equals", "needs header: the header to compare")
	}
	return ps
}

// validate checks capacity.
func (c Capacity) validate() problems {
	var ps problems
	if c.Nodes < 1 {
		ps.add("capacity.nodes", "must be at least 1, got %d", c.Nodes)
	}
	if m := c.SafetyMargin; m != nil && !(*m > 0 && *m <= 1) {
		ps.add("capacity.safety_margin", "must be in (0, 1], got %v", *m)
	}
	if n := c.NodeLoss; n != nil && n.Verify {
		ps.ratio("capacity.node_loss.at", n.At)
	}
	return ps
}

// validate checks abort_on.
func (a AbortOn) validate() problems {
	var ps problems
	ps.ratio("abort_on.error_rate", a.ErrorRate)
	if a.For < 1 {
		ps.add("abort_on.for", "must be at least 1")
	}
	return ps
}

// validate checks monitor.
func (m Monitor) validate() problems {
	var ps problems
	if m.Interval <= 0 {
		ps.add("monitor.interval", "must be positive")
	}
	return ps
}

// validate checks limits.
func (l Limits) validate() problems {
	var ps problems
	if l.MaxDuration <= 0 {
		ps.add("limits.max_duration", "must be positive")
	}
	return ps
}
