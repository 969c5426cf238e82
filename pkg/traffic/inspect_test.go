package traffic_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func inspectString(t *testing.T, name, data string) (*traffic.Summary, error) {
	t.Helper()
	r, err := traffic.NewReader(strings.NewReader(data), name)
	if err != nil {
		t.Fatal(err)
	}
	return traffic.Inspect(r)
}

func TestInspectSummarizes(t *testing.T) {
	var b strings.Builder
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	// 10 s of traffic: 5/s, except second 4 with 20/s.
	n := 0
	for s := 0; s < 10; s++ {
		per := 5
		if s == 4 {
			per = 20
		}
		for i := 0; i < per; i++ {
			ts := t0.Add(time.Duration(s)*time.Second + time.Duration(i)*time.Millisecond)
			switch n % 4 {
			case 0, 1:
				fmt.Fprintf(&b, `{"ts":%q,"path":"/v1/items?q=%d"}`+"\n", ts.Format(time.RFC3339Nano), n%2)
			case 2:
				fmt.Fprintf(&b, `{"ts":%q,"method":"POST","path":"/v1/predict","header":{"content-type":["application/json"]},"body":"{\"q\":\"%d\"}"}`+"\n", ts.Format(time.RFC3339Nano), n%10)
			case 3:
				fmt.Fprintf(&b, `{"ts":%q,"method":"PUT","path":"/v1/blob/%d","body":"%s"}`+"\n", ts.Format(time.RFC3339Nano), n, strings.Repeat("x", 1000))
			}
			n++
		}
	}
	s, err := inspectString(t, "t.ndjson", b.String())
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 65 || s.Timed != 65 {
		t.Fatalf("requests %d timed %d, want 65", s.Requests, s.Timed)
	}
	if s.PeakRate != 20 || s.PeakWindowSec != 1 {
		t.Errorf("peak %v/s over %d s, want 20/s over 1 s", s.PeakRate, s.PeakWindowSec)
	}
	if s.MeanRate != 6.5 {
		t.Errorf("mean rate %v, want 6.5", s.MeanRate)
	}
	if len(s.Rate) != 10 || s.Rate[4] != 20 || s.Rate[0] != 5 {
		t.Errorf("rate %v", s.Rate)
	}
	if s.Sparkline != "▂▂▂▂█▂▂▂▂▂" {
		t.Errorf("sparkline %q", s.Sparkline)
	}
	if s.Methods[0] != (traffic.NameCount{Name: "GET", Count: 33}) || len(s.Methods) != 3 {
		t.Errorf("methods %v", s.Methods)
	}
	if s.TopPaths[0].Name != "/v1/items" || s.TopPaths[0].Count != 33 || s.TopPaths[1].Name != "/v1/predict" || !s.PathsExact {
		t.Errorf("top paths %v", s.TopPaths)
	}
	if s.BodyBytes.WithBody != 32 || s.BodyBytes.Max != 1000 || s.BodyBytes.P50 < 9 || s.BodyBytes.P50 > 1000 {
		t.Errorf("body sizes %+v", s.BodyBytes)
	}
	if len(s.Headers) != 1 || s.Headers[0].Name != "Content-Type" {
		t.Errorf("headers %v", s.Headers)
	}
	// Distinct: 2 GET queries, POST bodies q=2,6,0,4,8 (n%10 for n=2 mod 4),
	// and every PUT is unique (16 of them).
	if s.Repeats.Distinct != 2+5+16 || !s.Repeats.Exact {
		t.Errorf("distinct %d", s.Repeats.Distinct)
	}
	var out bytes.Buffer
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"65 requests over 9.", "peak 20/s", "▂▂▂▂█▂▂▂▂▂", "/v1/items", "repeats", "64.6%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, out.String())
		}
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"requests":65`, `"peak_rate_per_s":20`, `"top_paths":[{"name":"/v1/items","count":33}`} {
		if !bytes.Contains(j, []byte(key)) {
			t.Errorf("JSON summary lacks %s: %s", key, j)
		}
	}
}

func TestInspectStopsAtTheFirstBadLine(t *testing.T) {
	_, err := inspectString(t, "bad.ndjson", `{"path":"/a"}`+"\n\n"+`{"path":"/b","method":7}`+"\n"+`{"path":"nope"}`+"\n")
	var le *traffic.LineError
	if !errors.As(err, &le) || le.Line != 3 || le.Field != "method" || !strings.HasPrefix(err.Error(), "bad.ndjson:3: method:") {
		t.Fatalf("error %v, want bad.ndjson:3 naming method", err)
	}
	if _, err := inspectString(t, "empty.ndjson", "\n\n"); !errors.Is(err, traffic.ErrEmpty) {
		t.Fatalf("empty file: %v", err)
	}
}

func TestInspectUntimedAndLongSpans(t *testing.T) {
	s, err := inspectString(t, "u.ndjson", `{"path":"/a"}`+"\n"+`{"path":"/a"}`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Timed != 0 || s.Sparkline != "" || s.Repeats.Share != 0.5 {
		t.Fatalf("%+v", s)
	}
	// Two years, reverse order: buckets coarsen instead of growing.
	var b strings.Builder
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 730; i >= 0; i-- {
		fmt.Fprintf(&b, `{"ts":%q,"path":"/a"}`+"\n", t0.Add(time.Duration(i)*24*time.Hour).Format(time.RFC3339))
	}
	s, err = inspectString(t, "long.ndjson", b.String())
	if err != nil {
		t.Fatal(err)
	}
	if s.PeakWindowSec < 64 || s.OutOfOrder != 730 || len(s.Rate) != traffic.SparklineWidth {
		t.Fatalf("peak window %d s, out of order %d, %d slices", s.PeakWindowSec, s.OutOfOrder, len(s.Rate))
	}
}

// TestInspectMillionLines checks memory stays bounded on a 1-million-line
// file. It takes tens of seconds, so it runs only with BESTBEFORE_LARGE=1:
//
//	BESTBEFORE_LARGE=1 go test -run TestInspectMillionLines -v ./pkg/traffic
func TestInspectMillionLines(t *testing.T) {
	if os.Getenv("BESTBEFORE_LARGE") != "1" {
		t.Skip("set BESTBEFORE_LARGE=1 to inspect a 1-million-line file")
	}
	path := filepath.Join(t.TempDir(), "big.ndjson.gz")
	w, err := traffic.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const n = 1_000_000
	for i := 0; i < n; i++ {
		req := &traffic.Request{
			TS: t0.Add(time.Duration(i) * 5 * time.Millisecond), Method: "POST",
			Path:   fmt.Sprintf("/v1/predict/%d?user=%d", i%5000, i),
			Header: map[string][]string{"Content-Type": {"application/json"}},
			Body:   fmt.Sprintf(`{"query":"item %d","k":5}`, i%300000),
		}
		if err := w.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := traffic.InspectFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	t.Logf("inspected %d lines in %v; heap in use after %d MB, total allocated %d MB, Sys %d MB",
		s.Requests, time.Since(start), after.HeapInuse>>20, (after.TotalAlloc-before.TotalAlloc)>>20, after.Sys>>20)
	if s.Requests != n || s.Repeats.Distinct != n || s.PeakRate != 200 {
		t.Errorf("requests %d distinct %d peak %v", s.Requests, s.Repeats.Distinct, s.PeakRate)
	}
	if after.Sys > 100<<20 {
		t.Errorf("memory obtained from the OS %d MB, want under 100 MB", after.Sys>>20)
	}
}

// A file of completion requests says how long its prompts are and how
// many output tokens they ask for: what an LLM service's capacity turns on.
func TestInspectCompletions(t *testing.T) {
	line := func(path, body string) string {
		b, _ := json.Marshal(body)
		return fmt.Sprintf(`{"method":"POST","path":%q,"body":%s}`+"\n", path, b)
	}
	data := line("/v1/completions", `{"prompt":"`+strings.Repeat("abcd", 10)+`","max_tokens":16,"stream":true}`) +
		line("/v1/chat/completions", `{"messages":[{"role":"user","content":"`+strings.Repeat("abcd", 100)+`"}],"max_completion_tokens":64}`) +
		line("/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"abcdabcd"}]}]}`) +
		line("/v1/predict", `{"prompt":"not a completion path"}`) +
		line("/v1/completions", `not json`)
	s, err := inspectString(t, "c.ndjson", data)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Completions
	if c == nil || c.Requests != 3 || c.Streamed != 1 || c.PromptTokens.Max != 100 || c.PromptTokens.P50 != 10 || c.MaxTokens.WithBody != 2 || c.MaxTokens.Max != 64 {
		t.Fatalf("completions %+v", c)
	}
	var out strings.Builder
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "completions 3 (1 streamed)") || !strings.Contains(out.String(), "2 of 3 ask") {
		t.Errorf("text:\n%s", out.String())
	}
}
