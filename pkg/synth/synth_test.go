package synth_test

import (
	"bytes"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/synth"
	"github.com/bestbefore/bestbefore/pkg/traffic"
	"github.com/bestbefore/bestbefore/target"
)

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func generate(t *testing.T, o synth.Options) ([]byte, []*traffic.Request) {
	t.Helper()
	var buf bytes.Buffer
	w := traffic.NewWriter(nopCloser{&buf}, false)
	if err := synth.Write(w, o); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := traffic.NewReader(bytes.NewReader(buf.Bytes()), "synth.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*traffic.Request
	for {
		req, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("generated traffic does not read back: %v", err)
		}
		reqs = append(reqs, req)
	}
	return buf.Bytes(), reqs
}

func TestGenerate_ReproducibleAndValid(t *testing.T) {
	o := synth.Options{Requests: 5000, Seed: 7}
	a, reqs := generate(t, o)
	b, _ := generate(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same options, different traffic")
	}
	if c, _ := generate(t, synth.Options{Requests: 5000, Seed: 8}); bytes.Equal(a, c) {
		t.Fatal("different seeds, same traffic")
	}
	if len(reqs) != 5000 {
		t.Fatalf("%d requests, want 5000", len(reqs))
	}
	ks := map[int]int{}
	anon := 0
	for i, r := range reqs {
		if r.Method != "POST" || r.Path != "/v1/predict" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("line %d: %s %s %v", r.Line, r.Method, r.Path, r.Header)
		}
		// Every body is a request the bundled service accepts.
		p, err := target.DecodeRequest(r.BodyBytes())
		if err != nil {
			t.Fatalf("line %d: body %s refused: %v", r.Line, r.Body, err)
		}
		ks[p.K]++
		if p.User == "" {
			anon++
		}
		if i > 0 && r.TS.Before(reqs[i-1].TS) {
			t.Fatalf("line %d: timestamps out of order", r.Line)
		}
		if r.TS.Before(synth.DefaultStart) || r.TS.After(synth.DefaultStart.Add(24*time.Hour)) {
			t.Fatalf("line %d: ts %v outside the day", r.Line, r.TS)
		}
	}
	if ks[5] < ks[10] || ks[10] < ks[20] || ks[20] < ks[50] || len(ks) != 4 {
		t.Errorf("k mix %v: want 5 > 10 > 20 > 50", ks)
	}
	if share := float64(anon) / 5000; share < 0.15 || share > 0.25 {
		t.Errorf("anonymous share %.2f, want about 0.2", share)
	}
}

func TestGenerate_ZipfPopularity(t *testing.T) {
	_, reqs := generate(t, synth.Options{Requests: 20000, Seed: 1})
	counts := map[string]int{}
	for _, r := range reqs {
		p, _ := target.DecodeRequest(r.BodyBytes())
		counts[p.Query]++
	}
	freq := make([]int, 0, len(counts))
	for _, c := range counts {
		freq = append(freq, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(freq)))
	top10 := 0
	for _, c := range freq[:10] {
		top10 += c
	}
	// A heavy head and a long tail: the 10 most asked queries take a large
	// share, and there are still hundreds of distinct queries.
	if share := float64(top10) / 20000; share < 0.25 || share > 0.75 {
		t.Errorf("top 10 queries take %.0f%% of the traffic", 100*share)
	}
	if len(counts) < 500 {
		t.Errorf("only %d distinct queries", len(counts))
	}
	if freq[0] < 3*freq[9] {
		t.Errorf("most popular query %d times, 10th %d: not Zipf-like", freq[0], freq[9])
	}
}

func TestGenerate_DailyShape(t *testing.T) {
	_, reqs := generate(t, synth.Options{Requests: 24000, Seed: 3})
	var hours [24]int
	for _, r := range reqs {
		hours[r.TS.Hour()]++
	}
	peak, trough := 0, 0
	for h := range hours {
		if hours[h] > hours[peak] {
			peak = h
		}
		if hours[h] < hours[trough] {
			trough = h
		}
	}
	if peak < 13 || peak > 20 || trough > 7 {
		t.Errorf("busiest hour %d, quietest %d: want an afternoon peak and a night trough (%v)", peak, trough, hours)
	}
	if float64(hours[peak]) < 2*float64(hours[trough]) {
		t.Errorf("peak %d vs trough %d requests an hour: too flat", hours[peak], hours[trough])
	}
	mean := 0.0
	for m := 0; m < 24*60; m++ {
		mean += synth.Rate(synth.DefaultStart.Add(time.Duration(m) * time.Minute))
	}
	if mean /= 24 * 60; mean < 0.99 || mean > 1.01 {
		t.Errorf("Rate averages %v over a day, want 1", mean)
	}
}

func TestQueries_HitTheCatalogue(t *testing.T) {
	n, err := target.NewNode(target.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	qs := synth.Queries(200, 1)
	if len(qs) != 200 {
		t.Fatalf("%d queries", len(qs))
	}
	matched := 0
	for _, q := range qs {
		r := n.Predict(target.PredictRequest{Query: q, K: 1})
		for _, w := range target.Tokenize(q) {
			if bytes.Contains([]byte(r.Predictions[0].Title), []byte(w)) {
				matched++
				break
			}
		}
	}
	if matched < 180 {
		t.Errorf("only %d of 200 queries find an item sharing a word", matched)
	}
}

func TestOptions_Validate(t *testing.T) {
	for _, o := range []synth.Options{
		{Requests: -1}, {ZipfS: 0.5}, {Users: -2}, {Anonymous: 2}, {Path: "v1"}, {Span: -time.Hour},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
		if err := synth.Generate(o, func(*traffic.Request) error { return nil }); err == nil {
			t.Errorf("Generate(%+v) accepted", o)
		}
	}
}
