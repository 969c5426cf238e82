package stats_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Encode writes HdrHistogram's V2 payload byte for byte as the library
// does (only the deflate level differs), and it decodes to the same
// counts, for empty, sparse, dense and extreme histograms.
func TestEncodeMatchesTheLibrarysPayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []*hdrhistogram.Histogram{stats.New()}
	for n := range []int{1, 10, 1000, 100000} {
		h := stats.New()
		for i := 0; i < []int{1, 10, 1000, 100000}[n]; i++ {
			_ = h.RecordValue(int64(1 + rng.ExpFloat64()*float64([]int{50, 5000, 200000, 60e6}[i%4])))
		}
		cases = append(cases, h)
	}
	edge := stats.New()
	_ = edge.RecordValues(stats.MinValue, 1<<40)
	_ = edge.RecordValue(stats.MaxValue)
	cases = append(cases, edge)
	for i, h := range cases {
		mine, err := stats.Encode(h)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := inflate(t, mine), inflate(t, string(lib)); !bytes.Equal(a, b) {
			t.Errorf("case %d: payload differs from the library's (%d and %d bytes)", i, len(a), len(b))
		}
		back, err := stats.Decode(mine)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !back.Equals(h) {
			t.Errorf("case %d: decoded histogram differs (count %d, want %d)", i, back.TotalCount(), h.TotalCount())
		}
	}
}

// inflate returns the uncompressed V2 payload of an encoded histogram.
func inflate(t *testing.T, enc string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) < 8 {
		t.Fatalf("not base64 of a compressed histogram: %v", err)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8:]))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func BenchmarkEncode(b *testing.B) {
	h := stats.New()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		_ = h.RecordValue(int64(1000 + rng.ExpFloat64()*20000))
	}
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			_, _ = stats.Encode(h)
		}
	})
	b.Run("library", func(b *testing.B) {
		for b.Loop() {
			_, _ = h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		}
	})
}
