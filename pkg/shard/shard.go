// Package shard splits one run across several load generators: shard i of
// n sends 1/n of every step's rate, replays a disjoint 1/n of the traffic
// lines, and follows a step plan fixed in advance and aligned to a shared
// wall-clock start, so that the shards' results can be merged losslessly
// (see pkg/merge).
package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Spec names one shard: Index (1-based) of Count.
type Spec struct {
	Index int
	Count int
}

// MaxCount bounds the number of shards a run can be split into.
const MaxCount = 10000

// JobIndexEnv is the variable a Kubernetes Indexed Job sets in each pod:
// the pod's 0-based completion index.
const JobIndexEnv = "JOB_COMPLETION_INDEX"

// ParseSpec reads "i/n" (1 <= i <= n), e.g. "2/3". "job/n" takes i from
// a Kubernetes Indexed Job: the 0-based index in JOB_COMPLETION_INDEX,
// plus one, read with getenv (os.Getenv), so a pod needs no shell to
// compute it.
func ParseSpec(v string, getenv func(string) string) (Spec, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want i/n, e.g. 2/3", v)
	}
	if strings.TrimSpace(a) == "job" {
		idx := ""
		if getenv != nil {
			idx = getenv(JobIndexEnv)
		}
		k, err := strconv.Atoi(strings.TrimSpace(idx))
		if err != nil || k < 0 {
			return Spec{}, fmt.Errorf("shard %q: job/n takes the shard from %s, the 0-based index a Kubernetes Indexed Job sets, but it is %q", v, JobIndexEnv, idx)
		}
		a = strconv.Itoa(k + 1)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("shard %q: want i/n with whole numbers, e.g. 2/3", v)
	}
	if n < 1 || n > MaxCount {
		return Spec{}, fmt.Errorf("shard %q: the shard count must be between 1 and %d", v, MaxCount)
	}
	if i < 1 || i > n {
		return Spec{}, fmt.Errorf("shard %q: the index must be between 1 and %d (shards are numbered from 1)", v, n)
	}
	return Spec{Index: i, Count: n}, nil
}

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Keep reports whether the traffic line belongs to this shard: line l
// (1-based) goes to shard ((l-1) mod n) + 1, so the shards' shares are
// disjoint and together cover the file.
func (s Spec) Keep(r *traffic.Request) bool {
	if s.Count <= 1 {
		return true
	}
	return (r.Line-1)%s.Count == s.Index-1
}

// ParseStartAt reads a start time: RFC 3339 ("2026-11-25T14:00:00Z"), or
// "+DURATION" ("+30s") meaning now plus that long, for trying shards on
// one machine.
func ParseStartAt(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if rest, ok := strings.CutPrefix(v, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("start-at %q: want an RFC 3339 time or +DURATION such as +30s", v)
		}
		// Resolved once, to the next whole second: shards started with
		// the same +DURATION within a second of each other (one machine,
		// one script) get the same time, which merge demands.
		t := now.Add(d)
		if w := t.Truncate(time.Second); !w.Equal(t) {
			t = w.Add(time.Second)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("start-at %q: want an RFC 3339 time such as 2026-11-25T14:00:00Z, or +DURATION such as +30s", v)
	}
	return t, nil
}

// Plan returns the rates every shard runs, in order: the scenario's ramp
// from start_qps to max_qps (or its load.steps), with no adaptive stop and
// no refinement, so that every shard's plan is the same.
func Plan(s *scenario.Scenario) []float64 { return s.Rates() }

// canonicalPlan is what the fingerprint covers: everything that must be
// equal for the shards' steps to be added together.
type canonicalPlan struct {
	V            int               `json:"v"`
	Name         string            `json:"name"`
	Rates        []float64         `json:"rates"`
	StepNS       int64             `json:"step_duration_ns"`
	WarmupNS     int64             `json:"warmup_ns"`
	IntervalNS   int64             `json:"interval_ns"`
	TimeoutNS    int64             `json:"timeout_ns"`
	Arrival      string            `json:"arrival"`
	Order        string            `json:"order"`
	Timing       string            `json:"timing"`
	Seed         int64             `json:"seed"`
	TrafficSHA   string            `json:"traffic_sha256"`
	Objectives   result.Objectives `json:"objectives"`
	Nodes        int               `json:"nodes"`
	SafetyMargin float64           `json:"safety_margin"`
	Count        int               `json:"count"`
}

// Fingerprint is the sha256 of the canonical plan: the rates, step
// duration, warmup, interval, timeout, arrival, order, timing, seed,
// scenario name, traffic sha256, objectives, node count, safety margin and
// shard count. Shards whose fingerprints differ cannot be merged.
func Fingerprint(s *scenario.Scenario, trafficSHA string, count int) string {
	c := canonicalPlan{
		V: 1, Name: s.Name, Rates: Plan(s),
		StepNS: int64(s.Load.StepDuration.D()), WarmupNS: int64(s.Load.Warmup.D()),
		IntervalNS: int64(s.Load.Interval.D()), TimeoutNS: int64(s.Load.Timeout.D()),
		Arrival: s.Load.Arrival, Order: s.Traffic.Order, Timing: s.Traffic.Timing, Seed: s.Seed,
		TrafficSHA: trafficSHA, Objectives: sweep.Objectives(s),
		Nodes: s.Capacity.Nodes, SafetyMargin: s.SafetyMarginValue(), Count: count,
	}
	b, _ := json.Marshal(c) // maps marshal with sorted keys: canonical
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FileSHA256 returns the hex sha256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrTooFewLines is returned by CheckTraffic when a shard would get no line.
var ErrTooFewLines = errors.New("shard: the traffic file has fewer lines than there are shards")

// CheckTraffic makes sure the traffic file gives every one of n shards at
// least one line, naming the file in the error.
func CheckTraffic(path string, n int) error {
	r, err := traffic.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	lines := 0
	for lines < n {
		if _, err := r.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: %w (%d lines for %d shards)", path, ErrTooFewLines, lines, n)
			}
			return err
		}
		lines++
	}
	return nil
}

// Configure returns the sweep hook that turns a run into shard spec of a
// plan starting at startAt: the fixed plan, 1/n of each rate, a disjoint
// 1/n of the traffic lines, steps aligned to startAt, and the shard block
// recorded in the result. Steps keep the plan's full rate as offered_qps;
// achieved_qps and the counts are the shard's own.
func Configure(spec Spec, startAt time.Time) func(*sweep.Config) {
	return func(c *sweep.Config) {
		s := c.Scenario
		sha, _ := FileSHA256(c.TrafficPath) // the runner has already read the file
		fp := Fingerprint(s, sha, spec.Count)
		c.Plan = Plan(s)
		c.RateScale = 1 / float64(spec.Count)
		c.Filter = spec.Keep
		c.StartAt = startAt
		c.Shard = &result.Shard{Index: spec.Index, Count: spec.Count, Plan: fp, StartAt: startAt.UTC()}
		// Independent arrivals and shuffles per shard: identical seeds
		// would make every shard's Poisson gaps the same.
		s.Seed += int64(spec.Index-1) * 1000003
	}
}

// Duration is how long a shard run takes from startAt: one slot per step.
func Duration(s *scenario.Scenario) time.Duration {
	return time.Duration(len(Plan(s))) * sweep.StepSlot(s)
}

// Check tells, before anything is sent, whether the scenario can run as
// shard spec starting at startAt: the traffic gives every shard a line,
// the replay is rate-driven (recorded timing would replay 1/n of the
// lines at 1/n of the speed), and limits.max_duration covers the wait and
// the whole plan. Errors name the scenario file, line and field.
func Check(s *scenario.Scenario, trafficPath string, spec Spec, startAt, now time.Time) error {
	if s.Traffic.Timing == "recorded" {
		return &scenario.Error{File: s.Path, Line: s.Line("traffic.timing"), Field: "traffic.timing",
			Msg: "recorded timing cannot be sharded (each shard holds 1/n of the lines); use timing: rate with --shard"}
	}
	if need := startAt.Sub(now) + Duration(s); need > s.Limits.MaxDuration.D() {
		return &scenario.Error{File: s.Path, Line: s.Line("limits.max_duration"), Field: "limits.max_duration",
			Msg: fmt.Sprintf("%v is shorter than the sharded run needs: %v until --start-at and %d steps × %v (step, timeout and 1s)",
				s.Limits.MaxDuration.D(), startAt.Sub(now).Round(time.Second), len(Plan(s)), sweep.StepSlot(s))}
	}
	if err := CheckTraffic(trafficPath, spec.Count); errors.Is(err, ErrTooFewLines) {
		return err
	}
	return nil
}
