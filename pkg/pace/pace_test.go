package pace_test

import (
	"math"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/pace"
)

func TestConstantOffset(t *testing.T) {
	tests := []struct {
		rate float64
		i    int64
		want time.Duration
	}{
		{100, 0, 0},
		{100, 1, 10 * time.Millisecond},
		{100, 250, 2500 * time.Millisecond},
		{3, 1, 333333333},
		{5000, 5000, time.Second},
		{0.5, 3, 6 * time.Second},
		{0, 1, time.Duration(math.MaxInt64)},
		{-1, 1, time.Duration(math.MaxInt64)},
		{1e6, 1 << 40, time.Duration(float64(1<<40) * 1e3)},
	}
	for _, tt := range tests {
		if got := pace.ConstantOffset(tt.rate, tt.i); got != tt.want {
			t.Errorf("ConstantOffset(%v, %d) = %v, want %v", tt.rate, tt.i, got, tt.want)
		}
	}
}

func TestConstantDue(t *testing.T) {
	tests := []struct {
		rate    float64
		elapsed time.Duration
		want    int64
	}{
		{100, 0, 1},
		{100, 9 * time.Millisecond, 1},
		{100, 10 * time.Millisecond, 2},
		{100, time.Second, 101},
		{1000, 1500 * time.Microsecond, 2},
		{0, time.Second, 0},
		{100, -time.Millisecond, 0},
	}
	for _, tt := range tests {
		if got := pace.ConstantDue(tt.rate, tt.elapsed); got != tt.want {
			t.Errorf("ConstantDue(%v, %v) = %d, want %d", tt.rate, tt.elapsed, got, tt.want)
		}
	}
}

func TestConstantArrivals(t *testing.T) {
	c := pace.NewConstant(200)
	for i := 0; i < 1000; i++ {
		want := time.Duration(i) * 5 * time.Millisecond
		if got := c.Next(); got != want {
			t.Fatalf("arrival %d at %v, want %v", i, got, want)
		}
	}
}

func TestPoissonArrivals(t *testing.T) {
	const rate, n = 1000.0, 200000
	p := pace.NewPoisson(rate, 42)
	var last, sum, sumSq time.Duration
	var gaps []float64
	for i := 0; i < n; i++ {
		t0 := p.Next()
		if t0 < last {
			t.Fatalf("arrival %d at %v before previous %v", i, t0, last)
		}
		g := t0 - last
		gaps = append(gaps, g.Seconds())
		sum += g
		_ = sumSq
		last = t0
	}
	mean := sum.Seconds() / n
	if math.Abs(mean*rate-1) > 0.01 {
		t.Errorf("mean gap %v s, want %v s within 1%%", mean, 1/rate)
	}
	var v float64
	for _, g := range gaps {
		v += (g - mean) * (g - mean)
	}
	cv := math.Sqrt(v/n) / mean
	if math.Abs(cv-1) > 0.02 {
		t.Errorf("coefficient of variation %.3f, want 1 (exponential gaps)", cv)
	}
	// Same seed, same schedule; different seed, different schedule.
	a, b, c := pace.NewPoisson(rate, 7), pace.NewPoisson(rate, 7), pace.NewPoisson(rate, 8)
	same, diff := true, false
	for i := 0; i < 100; i++ {
		x, y, z := a.Next(), b.Next(), c.Next()
		same = same && x == y
		diff = diff || x != z
	}
	if !same || !diff {
		t.Errorf("seeding: same seed equal=%v, other seed differs=%v", same, diff)
	}
}

func TestRecorded(t *testing.T) {
	if got := pace.RecordedSpeed(50, 200); got != 4 {
		t.Errorf("RecordedSpeed(50, 200) = %v, want 4", got)
	}
	tests := []struct {
		ts    time.Duration
		cycle int
		span  time.Duration
		speed float64
		want  time.Duration
	}{
		{time.Second, 0, 10 * time.Second, 1, time.Second},
		{time.Second, 0, 10 * time.Second, 2, 500 * time.Millisecond},
		{time.Second, 1, 10 * time.Second, 2, 5500 * time.Millisecond},
		{0, 2, 4 * time.Second, 0.5, 16 * time.Second},
	}
	for _, tt := range tests {
		if got := pace.RecordedOffset(tt.ts, tt.cycle, tt.span, tt.speed); got != tt.want {
			t.Errorf("RecordedOffset(%v, %d, %v, %v) = %v, want %v", tt.ts, tt.cycle, tt.span, tt.speed, got, tt.want)
		}
	}
}
