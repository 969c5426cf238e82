package stats

import (
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestRecordClampsToRangeAndCounts(t *testing.T) {
	r := NewRecorder()
	r.Record(0)               // below 1 µs: recorded as 1 µs
	r.Record(2 * time.Minute) // above 60 s: clamped and counted
	r.Record(1500 * time.Microsecond)
	if got := r.H.TotalCount(); got != 3 {
		t.Fatalf("count %d, want 3", got)
	}
	if r.Clamped != 1 {
		t.Errorf("clamped %d, want 1", r.Clamped)
	}
	if got := r.H.Min(); got != MinValue {
		t.Errorf("min %d µs, want %d", got, MinValue)
	}
	if got := r.H.Max(); !r.H.ValuesAreEquivalent(got, MaxValue) {
		t.Errorf("max %d µs, want %d", got, MaxValue)
	}
	r.Reset()
	if r.H.TotalCount() != 0 || r.Clamped != 0 {
		t.Errorf("after reset: count %d clamped %d", r.H.TotalCount(), r.Clamped)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := NewRecorder()
	d := 3 * time.Millisecond
	if n := testing.AllocsPerRun(1000, func() { r.Record(d); d += time.Microsecond }); n != 0 {
		t.Errorf("Record allocates %.1f times per call", n)
	}
}

// Percentiles are within the histogram's three significant digits of the
// exact values.
func TestSummarizeKnownDistribution(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 10000; i++ { // 0.1 ms .. 1000 ms, uniform
		r.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	l := Summarize(r.H)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.P50, 500}, {"p90", l.P90, 900}, {"p99", l.P99, 990}, {"p99.9", l.P999, 999}, {"max", l.Max, 1000}, {"mean", l.Mean, 500.05},
	} {
		if d := c.got/c.want - 1; d < -0.001 || d > 0.001 {
			t.Errorf("%s = %.3f ms, want %.3f ±0.1%%", c.name, c.got, c.want)
		}
	}
	if got := QuantileMS(r.H, 99); got != l.P99 {
		t.Errorf("QuantileMS(99) = %v, Summarize p99 = %v", got, l.P99)
	}
	if (Summarize(nil) != Summarize(New())) || QuantileMS(nil, 50) != 0 {
		t.Error("an empty histogram must summarize to zeros")
	}
}

func TestEncodeDecodeRoundTripAndMerge(t *testing.T) {
	a, b := NewRecorder(), NewRecorder()
	for i := 0; i < 1000; i++ {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i) * 2 * time.Millisecond)
	}
	s, err := Encode(a.H)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(a.H) {
		t.Fatal("decoded histogram differs from the encoded one")
	}
	if dropped := Merge(got, b.H); dropped != 0 {
		t.Fatalf("merge dropped %d", dropped)
	}
	if got.TotalCount() != 2000 || !got.ValuesAreEquivalent(got.Max(), b.H.Max()) {
		t.Errorf("merged count %d max %d", got.TotalCount(), got.Max())
	}
	if h, err := Decode(""); err != nil || h.TotalCount() != 0 {
		t.Errorf("empty string: %v, %v", h, err)
	}
}

func TestDecodeRejectsForeignRangeAndGarbage(t *testing.T) {
	foreign := hdrhistogram.New(1, 3600*1000*1000, 2)
	foreign.RecordValue(5)
	b, err := foreign.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(string(b)); err == nil || !strings.Contains(err.Error(), "want 1..60000000 at 3") {
		t.Errorf("foreign range: %v", err)
	}
	if _, err := Decode("not a histogram"); err == nil {
		t.Error("garbage decoded without error")
	}
	if _, err := Decode(strings.Repeat("A", 17<<20)); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized input: %v", err)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Record(time.Duration(i%100000) * time.Microsecond)
	}
}
