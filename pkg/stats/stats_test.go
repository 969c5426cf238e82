package stats

import (
	"math"
	"sort"
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

// ValueAtQuantile is the nearest rank: the value of the ceil(q·n)-th
// smallest sample (at least the first), reported as the highest value its
// bucket stands for. Checked by sorting the raw samples, for counts and
// quantiles where rounding and nearest rank part ways.
func TestValueAtQuantileIsNearestRank(t *testing.T) {
	qs := []float64{1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100}
	for _, n := range []int{1, 2, 3, 7, 10, 99, 100, 101, 600, 999, 1000, 1001, 1999, 12345} {
		h := New()
		samples := make([]int64, n)
		x := uint64(n)
		for i := range samples {
			x = x*6364136223846793005 + 1442695040888963407
			samples[i] = 1 + int64(x>>33)%2_000_000 // 1 µs .. 2 s
			_ = h.RecordValue(samples[i])
		}
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		for _, q := range qs {
			rank := int(math.Ceil(q / 100 * float64(n)))
			if q/100*float64(n) == math.Floor(q/100*float64(n)) {
				rank = int(q / 100 * float64(n)) // whole ranks exactly, without float noise
			}
			rank = max(rank, 1)
			want := samples[rank-1]
			// The highest value of the sample's bucket: equivalent to it, and not below it.
			if got := ValueAtQuantile(h, q); !h.ValuesAreEquivalent(got, want) || got < want {
				t.Errorf("n=%d q=%v: got %d µs, want %d's bucket (rank %d)", n, q, got, want, rank)
			}
		}
	}
	if got := ValueAtQuantile(New(), 99); got != 0 {
		t.Errorf("empty histogram: %d, want 0", got)
	}
	if QuantileMS(nil, 50) != 0 {
		t.Error("nil histogram must give 0")
	}
}

// The case that set the rule: 600 requests, p99.9 is the slowest of them
// (rank ceil(599.4) = 600), where round(599.4) = 599 reads the one before.
func TestValueAtQuantileP999Of600(t *testing.T) {
	h := New()
	for i := 1; i <= 599; i++ {
		_ = h.RecordValue(int64(i) * 100)
	}
	_ = h.RecordValue(237_700)
	if got := ValueAtQuantile(h, 99.9); !h.ValuesAreEquivalent(got, 237_700) {
		t.Errorf("p99.9 of 600 = %d µs, want the slowest request, 237700", got)
	}
	if got, lib := ValueAtQuantile(h, 99.9), h.ValueAtQuantile(99.9); got == lib {
		t.Errorf("the library's own rounding rule now agrees (%d); recheck this test", lib)
	}
}

func TestNearestRank(t *testing.T) {
	for _, c := range []struct {
		q    float64
		n    int64
		want int64
	}{
		{50, 1, 1}, {0.0001, 10, 1}, {50, 10, 5}, {50, 11, 6}, {99, 100, 99}, {99, 101, 100},
		{99.9, 600, 600}, {99.9, 1000, 999}, {99.9, 1001, 1000}, {100, 7, 7}, {150, 7, 7},
	} {
		if got := NearestRank(c.q, c.n); got != c.want {
			t.Errorf("NearestRank(%v, %d) = %d, want %d", c.q, c.n, got, c.want)
		}
	}
}

func TestValueAtQuantileDoesNotAllocate(t *testing.T) {
	h := New()
	for i := int64(1); i < 5000; i++ {
		_ = h.RecordValue(i * 37)
	}
	if n := testing.AllocsPerRun(100, func() { _ = ValueAtQuantile(h, 99.9) }); n != 0 {
		t.Errorf("ValueAtQuantile allocates %.1f times per call", n)
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
