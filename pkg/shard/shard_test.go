package shard_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/shard"
	"github.com/bestbefore/bestbefore/pkg/sweep"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func TestParseSpec(t *testing.T) {
	good := map[string]shard.Spec{"1/1": {1, 1}, "2/3": {2, 3}, " 3/3 ": {3, 3}}
	for in, want := range good {
		got, err := shard.ParseSpec(in, nil)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{"0/3": "numbered from 1", "4/3": "between 1 and 3", "2": "want i/n", "a/b": "whole numbers", "1/0": "count", "": "want i/n"}
	for in, want := range bad {
		_, err := shard.ParseSpec(in, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

// job/n reads a Kubernetes Indexed Job's 0-based completion index, so a
// pod without a shell runs shard index+1.
func TestParseSpecFromJobIndex(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == shard.JobIndexEnv {
				return v
			}
			return ""
		}
	}
	if got, err := shard.ParseSpec("job/3", env("2")); err != nil || got != (shard.Spec{Index: 3, Count: 3}) {
		t.Errorf("job/3 with index 2 = %v, %v", got, err)
	}
	for idx, want := range map[string]string{"": "JOB_COMPLETION_INDEX", "x": "JOB_COMPLETION_INDEX", "-1": "JOB_COMPLETION_INDEX", "3": "between 1 and 3"} {
		if _, err := shard.ParseSpec("job/3", env(idx)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("job/3 with index %q: %v, want %q", idx, err, want)
		}
	}
}

func TestParseStartAt(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	got, err := shard.ParseStartAt("+30s", now)
	if err != nil || !got.Equal(now.Add(30*time.Second)) {
		t.Errorf("+30s = %v, %v", got, err)
	}
	// Shards started together on one machine, 17 µs apart, agree: a
	// relative time resolves to the next whole second.
	a, _ := shard.ParseStartAt("+2s", now.Add(100*time.Millisecond))
	b, _ := shard.ParseStartAt("+2s", now.Add(100*time.Millisecond+17*time.Microsecond))
	if !a.Equal(b) || !a.Equal(now.Add(3*time.Second)) {
		t.Errorf("+2s from 14:00:00.1 and 17 µs later: %v and %v, want both 14:00:03", a, b)
	}
	got, err = shard.ParseStartAt("2026-11-25T15:00:00.5+01:00", now)
	if err != nil || !got.Equal(now.Add(500*time.Millisecond)) {
		t.Errorf("RFC 3339 = %v, %v", got, err)
	}
	for _, in := range []string{"tomorrow", "+-3s", "+3", "2026-11-25 14:00"} {
		if _, err := shard.ParseStartAt(in, now); err == nil {
			t.Errorf("ParseStartAt(%q) accepted", in)
		}
	}
}

// Every line belongs to exactly one shard, and the shares differ in size
// by at most one line.
func TestKeepPartitionsLines(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		counts := make([]int, n)
		for line := 1; line <= 100; line++ {
			owners := 0
			for i := 1; i <= n; i++ {
				if (shard.Spec{Index: i, Count: n}).Keep(&traffic.Request{Line: line}) {
					owners++
					counts[i-1]++
				}
			}
			if owners != 1 {
				t.Fatalf("n=%d: line %d kept by %d shards", n, line, owners)
			}
		}
		lo, hi := counts[0], counts[0]
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Errorf("n=%d: shares %v are uneven", n, counts)
		}
	}
}

func parse(t *testing.T, y string, overrides ...string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse([]byte(y), "s.yaml", t.TempDir(), overrides)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const base = `name: fp
target: {url: http://127.0.0.1:9}
traffic: {file: t.ndjson}
load: {start_qps: 100, step_qps: 50, max_qps: 300, step_duration: 2s, warmup: 500ms, timeout: 1s}
slo: {latency: {p99: 50ms}}
`

func TestFingerprint(t *testing.T) {
	a := shard.Fingerprint(parse(t, base), "abc", 3)
	if a != shard.Fingerprint(parse(t, base), "abc", 3) {
		t.Fatal("fingerprint of the same plan differs")
	}
	if !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+64 {
		t.Errorf("fingerprint %q is not a sha256", a)
	}
	differ := map[string]string{
		"max_qps":  shard.Fingerprint(parse(t, base, "load.max_qps=350"), "abc", 3),
		"duration": shard.Fingerprint(parse(t, base, "load.step_duration=3s"), "abc", 3),
		"warmup":   shard.Fingerprint(parse(t, base, "load.warmup=1s"), "abc", 3),
		"arrival":  shard.Fingerprint(parse(t, base, "load.arrival=poisson"), "abc", 3),
		"traffic":  shard.Fingerprint(parse(t, base), "abd", 3),
		"count":    shard.Fingerprint(parse(t, base), "abc", 2),
		"slo":      shard.Fingerprint(parse(t, base, "slo.latency.p99=60ms"), "abc", 3),
	}
	for what, fp := range differ {
		if fp == a {
			t.Errorf("changing %s kept the fingerprint", what)
		}
	}
}

func TestPlanAndDuration(t *testing.T) {
	s := parse(t, base)
	plan := shard.Plan(s)
	want := []float64{100, 150, 200, 250, 300}
	if len(plan) != len(want) {
		t.Fatalf("plan %v, want %v", plan, want)
	}
	for i := range want {
		if plan[i] != want[i] {
			t.Fatalf("plan %v, want %v", plan, want)
		}
	}
	if got := sweep.StepSlot(s); got != 4*time.Second {
		t.Errorf("slot %v, want step 2s + timeout 1s + 1s", got)
	}
	if got := shard.Duration(s); got != 20*time.Second {
		t.Errorf("duration %v, want 5 × 4s", got)
	}
}

func TestCheck(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	two := dir + "/two.ndjson"
	if err := os.WriteFile(two, []byte("{\"path\":\"/a\"}\n{\"path\":\"/b\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := shard.Spec{Index: 1, Count: 2}
	if err := shard.Check(parse(t, base), two, spec, now.Add(time.Second), now); err != nil {
		t.Errorf("a good scenario: %v", err)
	}
	for _, tc := range []struct {
		name string
		s    *scenario.Scenario
		spec shard.Spec
		want string
	}{
		{"recorded", parse(t, base, "traffic.timing=recorded"), spec, "s.yaml: traffic.timing: recorded timing cannot be sharded"},
		{"max duration", parse(t, base, "limits.max_duration=15s"), spec, "limits.max_duration: 15s is shorter than the sharded run needs"},
		{"lines", parse(t, base), shard.Spec{Index: 1, Count: 3}, "two.ndjson: shard: the traffic file has fewer lines than there are shards (2 lines for 3 shards)"},
	} {
		err := shard.Check(tc.s, two, tc.spec, now.Add(time.Second), now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
