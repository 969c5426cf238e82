// Package merge combines the results of the shards of one distributed run
// (written by `run --shard i/n`) into one result, without losing
// precision: the shards' HDR histograms are added step by step and
// interval by interval, counts are summed, and every percentile, verdict
// and the best-before are computed again from the sums. Percentiles are
// never averaged.
package merge

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/shard"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// DefaultTolerance is how far apart the shards' step starts may be.
const DefaultTolerance = time.Second

// Options tune the merge.
type Options struct {
	// Tolerance bounds the spread of a step's start times across shards
	// (default DefaultTolerance).
	Tolerance time.Duration
	// Partial merges the steps every shard completed when some shard
	// stopped early (interrupted, aborted) instead of refusing.
	Partial bool
}

// Input is one shard's result and the file it came from.
type Input struct {
	Path   string
	Result *result.Result
}

// Error is a shard that cannot be merged; File names it.
type Error struct {
	File string
	Msg  string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

func errf(file, format string, args ...any) error {
	return &Error{File: file, Msg: fmt.Sprintf(format, args...)}
}

// Files reads the shard results at paths and merges them.
func Files(paths []string, o Options) (*result.Result, error) {
	if len(paths) == 0 {
		return nil, &Error{Msg: "no shard results given"}
	}
	var in []Input
	seen := map[string]string{}
	var infos []os.FileInfo
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, errf(p, "%v", unwrapPath(err))
		}
		abs, _ := filepath.Abs(p)
		if prev, ok := seen[abs]; ok {
			return nil, errf(p, "given twice (also as %s): each shard must be merged once", prev)
		}
		for i, other := range infos {
			if os.SameFile(fi, other) {
				return nil, errf(p, "is the same file as %s: each shard must be merged once", paths[i])
			}
		}
		seen[abs] = p
		infos = append(infos, fi)
		r, err := result.Read(p)
		if err != nil {
			return nil, errf(p, "%v", strings.TrimPrefix(err.Error(), p+": "))
		}
		in = append(in, Input{Path: p, Result: r})
	}
	return Merge(in, o)
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Merge checks that the inputs are the complete, matching shards of one
// plan and returns the merged result. Errors are *Error naming the shard.
func Merge(in []Input, o Options) (*result.Result, error) {
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultTolerance
	}
	if len(in) == 0 {
		return nil, &Error{Msg: "no shard results given"}
	}
	if err := check(in); err != nil {
		return nil, err
	}
	// Whatever reached Merge without result.Read is held to the same
	// invariants: a shard whose histogram lacks requests it counts would
	// give the merged step percentiles of part of its data.
	for _, x := range in {
		if err := result.Check(x.Result); err != nil {
			return nil, errf(x.Path, "%v", err)
		}
	}
	sort.SliceStable(in, func(i, j int) bool { return in[i].Result.Shard.Index < in[j].Result.Shard.Index })
	first := in[0]
	nSteps := len(first.Result.Steps)
	for _, x := range in[1:] {
		if len(x.Result.Steps) == nSteps {
			continue
		}
		if !o.Partial {
			short, long := x, first
			if len(x.Result.Steps) > nSteps {
				short, long = first, x
			}
			miss := len(short.Result.Steps)
			return nil, errf(short.Path, "has %d steps and %s has %d: step %d (%g QPS) is missing, a shard stopped early (status %s%s); merge with --partial to keep the steps every shard completed",
				miss, long.Path, len(long.Result.Steps), miss, long.Result.Steps[miss].OfferedQPS, short.Result.Status, reasonSuffix(short.Result))
		}
		nSteps = min(nSteps, len(x.Result.Steps))
	}
	if nSteps == 0 {
		return nil, errf(first.Path, "no step was completed by every shard")
	}
	out := header(in)
	for k := 0; k < nSteps; k++ {
		st, err := mergeStep(in, k, o.Tolerance)
		if err != nil {
			return nil, err
		}
		result.ApplyJudgement(&st, out.Objectives)
		out.Steps = append(out.Steps, st)
	}
	if nSteps < maxSteps(in) {
		out.Warnings = append(out.Warnings, fmt.Sprintf("partial merge: only the first %d step(s), those every shard completed, were merged", nSteps))
		if out.Status == result.StatusCompleted {
			out.Status = result.StatusInterrupted
			out.Reason = "a shard stopped before the end of the plan"
		}
	}
	bb := first.Result.BestBefore
	out.BestBefore = result.ComputeBestBefore(out.Steps, bb.Nodes, bb.SafetyMargin)
	out.Capacity = capacity.ModelFromResult(out)
	out.Errors = result.TabulateErrors(out.Steps)
	return out, nil
}

func reasonSuffix(r *result.Result) string {
	if r.Reason == "" {
		return ""
	}
	return ": " + r.Reason
}

func maxSteps(in []Input) int {
	n := 0
	for _, x := range in {
		n = max(n, len(x.Result.Steps))
	}
	return n
}

// check verifies the set of shards: each is a shard, of the same plan and
// count, no index twice, none missing.
func check(in []Input) error {
	var ref *Input
	byIndex := map[int]string{}
	for i := range in {
		x := &in[i]
		sh := x.Result.Shard
		if sh == nil {
			return errf(x.Path, "is not a shard result (no \"shard\" block): run it with --shard i/n")
		}
		if sh.Index == 0 || len(sh.MergedFrom) > 0 {
			return errf(x.Path, "is already a merged result (of %s); merge the shard files themselves", strings.Join(sh.MergedFrom, ", "))
		}
		if ref == nil {
			ref = x
		}
		rs := ref.Result.Shard
		if sh.Count != rs.Count {
			return errf(x.Path, "is shard %d/%d but %s is shard %d/%d: the shard counts differ", sh.Index, sh.Count, ref.Path, rs.Index, rs.Count)
		}
		if v, rv := x.Result.Manifest.Version, ref.Result.Manifest.Version; v != rv {
			return errf(x.Path, "was written by bestbefore %s and %s by %s: shards of different versions may measure differently; run every shard with one version", orUnknown(v), ref.Path, orUnknown(rv))
		}
		if sh.Count > shard.MaxCount {
			return errf(x.Path, "declares %d shards, more than the %d run can make", sh.Count, shard.MaxCount)
		}
		if sh.Plan != rs.Plan {
			return errf(x.Path, "was run with a different plan than %s (plan fingerprint %s, not %s): same scenario, overrides and traffic file on every shard", ref.Path, short(sh.Plan), short(rs.Plan))
		}
		if !sh.StartAt.Equal(rs.StartAt) {
			return errf(x.Path, "started at %s but %s at %s: give every shard the same --start-at", sh.StartAt.Format(time.RFC3339Nano), ref.Path, rs.StartAt.Format(time.RFC3339Nano))
		}
		if sh.Index < 1 || sh.Index > sh.Count {
			return errf(x.Path, "has shard index %d, outside 1..%d", sh.Index, sh.Count)
		}
		if prev, ok := byIndex[sh.Index]; ok {
			return errf(x.Path, "is shard %d/%d, and so is %s: each shard must be merged once", sh.Index, sh.Count, prev)
		}
		byIndex[sh.Index] = x.Path
	}
	var missing []string
	nMissing := ref.Result.Shard.Count - len(byIndex)
	for i := 1; i <= ref.Result.Shard.Count && len(missing) < 20; i++ {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if nMissing > len(missing) {
		missing = append(missing, fmt.Sprintf("… (%d in all)", nMissing))
	}
	if len(missing) > 0 {
		return &Error{Msg: fmt.Sprintf("shard(s) %s of %d missing: the plan of %s needs all %d shards", strings.Join(missing, ", "), ref.Result.Shard.Count, ref.Path, ref.Result.Shard.Count)}
	}
	return nil
}

func short(fp string) string {
	s := strings.TrimPrefix(fp, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// header builds the merged document around the steps.
func header(in []Input) *result.Result {
	f := in[0].Result
	out := &result.Result{
		Schema: result.SchemaV1, Name: f.Name, Status: result.StatusCompleted,
		StartedAt: f.StartedAt, FinishedAt: f.FinishedAt,
		Manifest: f.Manifest, Objectives: f.Objectives, Steps: []result.Step{},
	}
	out.Manifest.Hostname = ""
	out.Manifest.Extra = map[string]string{}
	for k, v := range f.Manifest.Extra {
		out.Manifest.Extra[k] = v
	}
	var from []string
	for _, x := range in {
		r := x.Result
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		if r.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = r.FinishedAt
		}
		i := r.Shard.Index
		out.Manifest.Extra[fmt.Sprintf("shard.%d.hostname", i)] = r.Manifest.Hostname
		out.Manifest.Extra[fmt.Sprintf("shard.%d.cpus", i)] = strconv.Itoa(r.Manifest.CPUs)
		out.Manifest.Extra[fmt.Sprintf("shard.%d.seed", i)] = strconv.FormatInt(r.Manifest.Seed, 10)
		out.Manifest.Extra[fmt.Sprintf("shard.%d.file", i)] = x.Path
		if r.Status != result.StatusCompleted && out.Status == result.StatusCompleted {
			out.Status = r.Status
			out.Reason = fmt.Sprintf("shard %d/%d (%s): %s", i, r.Shard.Count, x.Path, r.Reason)
		}
		for _, w := range r.Warnings {
			out.Warnings = appendOnce(out.Warnings, fmt.Sprintf("shard %d: %s", i, w))
		}
		from = append(from, x.Path)
	}
	out.Shard = &result.Shard{Index: 0, Count: f.Shard.Count, Plan: f.Shard.Plan, StartAt: f.Shard.StartAt, MergedFrom: from}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// mergeStep adds step k of every shard.
func mergeStep(in []Input, k int, tol time.Duration) (result.Step, error) {
	f := &in[0].Result.Steps[k]
	out := result.Step{
		Index: f.Index, Phase: f.Phase, OfferedQPS: f.OfferedQPS, StartedAt: f.StartedAt,
		DurationS: f.DurationS, WarmupS: f.WarmupS, ErrorsByClass: map[string]int64{},
	}
	lat, svc := stats.New(), stats.New()
	sm := &streamMerge{}
	var ivs, trend []result.Interval
	var ivHists, trendHists []*hdrhistogram.Histogram
	latest := f.StartedAt
	var dropped int64
	var targets []*result.TargetResources
	var hosts []*result.Host
	// Endpoint groups by name, in the order first met.
	var eps []result.Endpoint
	var epHists []*hdrhistogram.Histogram
	epIdx := map[string]int{}
	for _, x := range in {
		s := &x.Result.Steps[k]
		for j, e := range s.Endpoints {
			i, ok := epIdx[e.Name]
			if !ok {
				i = len(eps)
				epIdx[e.Name] = i
				eps = append(eps, result.Endpoint{Name: e.Name})
				epHists = append(epHists, stats.New())
			}
			eps[i].Requests += e.Requests
			eps[i].Errors += e.Errors
			if e.Histogram != "" {
				if err := add(epHists[i], e.Histogram, x.Path, k, fmt.Sprintf("endpoints[%d].histogram", j)); err != nil {
					return out, err
				}
			}
		}
		if s.OfferedQPS != f.OfferedQPS || s.Phase != f.Phase {
			return out, errf(x.Path, "step %d is %s at %g QPS but in %s it is %s at %g QPS: the plans differ", k, s.Phase, s.OfferedQPS, in[0].Path, f.Phase, f.OfferedQPS)
		}
		if s.StartedAt.Before(out.StartedAt) {
			out.StartedAt = s.StartedAt
		}
		if s.StartedAt.After(latest) {
			latest = s.StartedAt
		}
		if d := latest.Sub(out.StartedAt); d > tol {
			return out, errf(x.Path, "step %d (%g QPS) started %v away from another shard's (more than %v): the shards did not change rate together; check the machines' clocks (NTP) and give every shard the same --start-at",
				k, s.OfferedQPS, d.Round(time.Millisecond), tol)
		}
		out.DurationS = math.Max(out.DurationS, s.DurationS)
		out.Requests += s.Requests
		out.Successes += s.Successes
		out.Errors += s.Errors
		for c, n := range s.ErrorsByClass {
			out.ErrorsByClass[c] += n
		}
		out.ErrorKinds = result.MergeErrorKinds(out.ErrorKinds, s.ErrorKinds)
		dropped += s.ErrorsByClass[result.ClassDropped]
		out.AchievedQPS += s.AchievedQPS
		out.SentQPS += s.SentQPS
		out.InFlightMean += s.InFlightMean
		out.InFlightMax += s.InFlightMax
		if err := add(lat, s.Histogram, x.Path, k, "histogram"); err != nil {
			return out, err
		}
		if err := add(svc, s.ServiceHistogram, x.Path, k, "service_histogram"); err != nil {
			return out, err
		}
		for j, iv := range s.Intervals {
			for len(ivs) <= j {
				ivs = append(ivs, result.Interval{OffsetS: iv.OffsetS})
				ivHists = append(ivHists, stats.New())
			}
			ivs[j].Requests += iv.Requests
			ivs[j].Errors += iv.Errors
			ivs[j].InFlightMean += iv.InFlightMean
			ivs[j].SendLagMaxMS = max(ivs[j].SendLagMaxMS, iv.SendLagMaxMS)
			if err := add(ivHists[j], iv.Histogram, x.Path, k, fmt.Sprintf("intervals[%d].histogram", j)); err != nil {
				return out, err
			}
		}
		if len(s.Trend) > 0 && len(trend) == 0 {
			for _, sl := range s.Trend {
				trend = append(trend, result.Interval{OffsetS: sl.OffsetS})
				trendHists = append(trendHists, stats.New())
			}
		}
		if len(s.Trend) != len(trend) {
			return out, errf(x.Path, "step %d has %d trend slices and another shard's %d: the shards were written by different versions", k, len(s.Trend), len(trend))
		}
		for j, sl := range s.Trend {
			trend[j].Requests += sl.Requests
			if err := add(trendHists[j], sl.Histogram, x.Path, k, fmt.Sprintf("trend[%d].histogram", j)); err != nil {
				return out, err
			}
		}
		if err := sm.add(s, x.Path, k); err != nil {
			return out, err
		}
		if s.GoodRequests != nil {
			good := *s.GoodRequests
			if out.GoodRequests != nil {
				good += *out.GoodRequests
			}
			out.GoodRequests = &good
		}
		mergeGenerator(&out.Generator, &s.Generator, x.Result.Shard.Index)
		if s.Target != nil {
			targets = append(targets, s.Target)
		}
		if s.Host != nil {
			hosts = append(hosts, s.Host)
		}
		for _, w := range s.Warnings {
			out.Warnings = appendOnce(out.Warnings, fmt.Sprintf("shard %d: %s", x.Result.Shard.Index, w))
		}
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(out.Errors) / float64(out.Requests)
	}
	out.LatencyMS = result.Summarize(lat)
	out.ServiceTimeMS = result.Summarize(svc)
	out.LittleConcurrency = float64(out.Requests-dropped) / math.Max(out.DurationS, 1e-9) * out.LatencyMS.Mean / 1000
	var err error
	if out.Histogram, err = stats.Encode(lat); err != nil {
		return out, err
	}
	if svc.TotalCount() > 0 {
		if out.ServiceHistogram, err = stats.Encode(svc); err != nil {
			return out, err
		}
	}
	for j := range ivs {
		if ivs[j].Histogram, err = stats.Encode(ivHists[j]); err != nil {
			return out, err
		}
	}
	out.Intervals = ivs
	for i, h := range epHists {
		if err := eps[i].SetLatency(h); err != nil {
			return out, err
		}
	}
	out.Endpoints = eps
	for j := range trend {
		if trend[j].Histogram, err = stats.Encode(trendHists[j]); err != nil {
			return out, err
		}
	}
	out.Trend = trend
	if out.Stream, err = sm.result(); err != nil {
		return out, err
	}
	out.Target = mergeTargets(targets)
	out.Host = mergeHosts(hosts)
	return out, nil
}

// streamMerge sums the shards' streamed responses: counts and token
// rates add, histograms merge losslessly.
type streamMerge struct {
	out                   *result.Stream
	ttft, sent, itl, tpot *hdrhistogram.Histogram
	usage, events         bool
}

func (m *streamMerge) add(s *result.Step, path string, k int) error {
	if s.Stream == nil {
		return nil
	}
	if m.out == nil {
		m.out = &result.Stream{}
		m.ttft, m.sent, m.itl, m.tpot = stats.New(), stats.New(), stats.New(), stats.New()
	}
	x := s.Stream
	m.out.Responses += x.Responses
	m.out.OutputTokens += x.OutputTokens
	m.out.OutputTokensPerS += x.OutputTokensPerS
	m.usage = m.usage || x.TokensFrom != "events"
	m.events = m.events || x.TokensFrom != "usage"
	for _, h := range []struct {
		dst   *hdrhistogram.Histogram
		enc   string
		field string
	}{{m.ttft, x.TTFTHistogram, "ttft_histogram"}, {m.sent, x.TTFTFromSendHistogram, "ttft_from_send_histogram"}, {m.itl, x.ITLHistogram, "itl_histogram"}, {m.tpot, x.TPOTHistogram, "tpot_histogram"}} {
		if err := add(h.dst, h.enc, path, k, "stream."+h.field); err != nil {
			return err
		}
	}
	return nil
}

// result is the merged figures, nil when no shard streamed.
func (m *streamMerge) result() (*result.Stream, error) {
	if m.out == nil {
		return nil, nil
	}
	o := m.out
	switch {
	case m.usage && m.events:
		o.TokensFrom = "mixed"
	case m.usage:
		o.TokensFrom = "usage"
	default:
		o.TokensFrom = "events"
	}
	o.TTFTMS, o.TTFTFromSendMS, o.ITLMS, o.TPOTMS = result.Summarize(m.ttft), result.Summarize(m.sent), result.Summarize(m.itl), result.Summarize(m.tpot)
	var err error
	for _, h := range []struct {
		dst *string
		h   *hdrhistogram.Histogram
	}{{&o.TTFTHistogram, m.ttft}, {&o.TTFTFromSendHistogram, m.sent}, {&o.ITLHistogram, m.itl}, {&o.TPOTHistogram, m.tpot}} {
		if *h.dst, err = stats.Encode(h.h); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// add decodes a shard's histogram into dst, naming the file on failure.
func add(dst *hdrhistogram.Histogram, enc, path string, step int, field string) error {
	if enc == "" {
		return nil
	}
	h, err := stats.Decode(enc)
	if err != nil {
		return errf(path, "steps[%d].%s: %v (the file is truncated or corrupt)", step, field, err)
	}
	if lost := stats.Merge(dst, h); lost > 0 {
		return errf(path, "steps[%d].%s: %d values outside the histogram range", step, field, lost)
	}
	return nil
}

// mergeGenerator keeps the worst generator health of the shards: each
// generator paced its own share, so the step is only as trustworthy as the
// least healthy of them. Send-lag percentiles are not histograms in the
// result, so the merged figures are the shards' worst, not recomputed.
func mergeGenerator(dst, g *result.Generator, shard int) {
	dst.CPUPercent = math.Max(dst.CPUPercent, g.CPUPercent)
	dst.RSSMB = math.Max(dst.RSSMB, g.RSSMB)
	dst.Goroutines = max(dst.Goroutines, g.Goroutines)
	dst.GCPauseP99MS = math.Max(dst.GCPauseP99MS, g.GCPauseP99MS)
	dst.SendLagP50MS = math.Max(dst.SendLagP50MS, g.SendLagP50MS)
	dst.SendLagP99MS = math.Max(dst.SendLagP99MS, g.SendLagP99MS)
	dst.SendLagMaxMS = math.Max(dst.SendLagMaxMS, g.SendLagMaxMS)
	dst.LateSends += g.LateSends
	dst.StallP50MS = math.Max(dst.StallP50MS, g.StallP50MS)
	dst.StallP99MS = math.Max(dst.StallP99MS, g.StallP99MS)
	dst.StallMaxMS = math.Max(dst.StallMaxMS, g.StallMaxMS)
	if g.Saturated {
		why := fmt.Sprintf("shard %d: %s", shard, g.SaturatedWhy)
		if dst.Saturated {
			dst.SaturatedWhy += "; " + why
		} else {
			dst.SaturatedWhy = why
		}
		dst.Saturated = true
	}
}

// mergeTargets combines the shards' samples of the target. The shards
// load the same target during the same aligned window, so their samples
// measure the same thing: the merge keeps the highest of each figure (the
// conservative reading for the target_cpu and gc_pause objectives), and
// for custom metrics the highest value seen.
func mergeTargets(ts []*result.TargetResources) *result.TargetResources {
	if len(ts) == 0 {
		return nil
	}
	out := *ts[0]
	out.Metrics = nil
	for _, t := range ts {
		out.CPUPercent = math.Max(out.CPUPercent, t.CPUPercent)
		out.MaxCPUPercent = math.Max(out.MaxCPUPercent, t.MaxCPUPercent)
		out.RSSMB = math.Max(out.RSSMB, t.RSSMB)
		out.HeapMB = math.Max(out.HeapMB, t.HeapMB)
		out.GCCyclesPerS = math.Max(out.GCCyclesPerS, t.GCCyclesPerS)
		out.GCPauseP99MS = math.Max(out.GCPauseP99MS, t.GCPauseP99MS)
		out.Threads = max(out.Threads, t.Threads)
		out.OpenFiles = max(out.OpenFiles, t.OpenFiles)
		for k, v := range t.Metrics {
			if out.Metrics == nil {
				out.Metrics = map[string]float64{}
			}
			if old, ok := out.Metrics[k]; !ok || v > old {
				out.Metrics[k] = v
			}
		}
	}
	return &out
}

// mergeHosts keeps the busiest generator host's sample: each shard ran on
// its own machine (or shared one), and a report reads the host block to
// see whether a generator machine was the bottleneck.
func mergeHosts(hs []*result.Host) *result.Host {
	var best *result.Host
	for _, h := range hs {
		if best == nil || h.CPUPercent > best.CPUPercent {
			best = h
		}
	}
	if best == nil {
		return nil
	}
	out := *best
	out.CPUPerCorePercent = append([]float64(nil), best.CPUPerCorePercent...)
	return &out
}

func orUnknown(v string) string {
	if v == "" {
		return "an unknown version"
	}
	return v
}
