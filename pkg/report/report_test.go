package report_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/internal/hdrref"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

func fixedOptions() report.Options {
	return report.Options{
		Now:     func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) },
		Version: "v0.0.0-test",
		Written: []string{"reports/demo/result.json", "reports/demo/report.md", "reports/demo/report.html"},
	}
}

func loadFixture(t testing.TB) *result.Result {
	t.Helper()
	r, err := result.Read(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares got with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/report -update)", err)
	}
	if !bytes.Equal(want, got) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test ./pkg/report -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: got %d lines, want %d", path, len(gl), len(wl))
	}
}

func TestMarkdownGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Markdown(&buf, loadFixture(t), fixedOptions()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.md", buf.Bytes())
	md := buf.String()
	for _, want := range []string{
		"**Best-before: 650 QPS** · **N-1: 346 QPS**",
		"Limited by latency.p99, first broken at 675 QPS.",
		"| latency p99 | 100 ms | ✅ 78.9 ms | ❌ 175 ms |",
		// Endpoints: the slow one called out, each at the best-before.
		"**GET /v1/search?q={} is much slower than the other endpoints at the best-before (650 QPS): p99 382 ms against 68.6 ms.**",
		"| POST /v1/predict | 80.0% · 14.5 ms · 67.6 ms · 0 |",
		// Errors: class, status, count, steps, sample.
		"| http_5xx | 503 | 49 | 6–9 | HTTP 503 Service Unavailable |",
		"| **8** ★ | refine | 650 |",
		"11 (http_5xx 11) | 99.68% |",
		"## Node loss",
		"**held**",
		"## Capacity model",
		"<details><summary>Run manifest</summary>",
		"_Generated 2026-11-26T09:00:00Z by bestbefore v0.0.0-test._",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// The headline comes before everything else.
	if i, j := strings.Index(md, "Best-before"), strings.Index(md, "## "); i < 0 || i > j {
		t.Errorf("headline is not first")
	}
}

func TestHTMLGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := report.HTML(&buf, loadFixture(t), fixedOptions()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.html", buf.Bytes())
	h := buf.String()
	for _, name := range report.ChartNames {
		re := regexp.MustCompile(`data-chart="` + name + `" data-points="(\d+)"`)
		m := re.FindStringSubmatch(h)
		if m == nil {
			t.Errorf("chart %q missing", name)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("chart %q has no points", name)
		}
	}
	// Self-contained: no external reference of any kind.
	for _, bad := range []string{"http://", "https://", "<script", "<link", "src="} {
		for _, line := range strings.Split(h, "\n") {
			if strings.Contains(line, bad) && !strings.Contains(line, "xmlns=\"http://www.w3.org/2000/svg\"") && !strings.Contains(line, "127.0.0.1") {
				t.Errorf("report.html refers outside itself (%q): %.120s", bad, line)
			}
		}
	}
	// 7 ramp steps sit at distinct rates (8 ramp + 2 refine = 10 points a series).
	if !strings.Contains(h, `data-chart="throughput" data-points="10"`) {
		t.Errorf("throughput chart should plot the 10 ramp and refinement steps, not the hold step")
	}
}

func TestSummaryGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Summary(&buf, loadFixture(t), fixedOptions()); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.golden.txt", buf.Bytes())
	s := buf.String()
	for _, want := range []string{"Best-before  650 QPS", "N-1          346 QPS", "p99 vs offered QPS", "█", "│", "reports/demo/report.html"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if n := strings.Count(s, "\n"); n > 50 {
		t.Errorf("summary is %d lines, want one screen", n)
	}
}

func TestHLogRoundTrip(t *testing.T) {
	for _, tagged := range []bool{false, true} {
		t.Run(fmt.Sprintf("tagged=%v", tagged), func(t *testing.T) { hlogRoundTrip(t, tagged) })
	}
}

func hlogRoundTrip(t *testing.T, tagged bool) {
	r := loadFixture(t)
	r.StartedAt = r.StartedAt.Add(123 * time.Millisecond) // not on a whole second
	var buf bytes.Buffer
	if err := report.HLog(&buf, r, report.HLogOptions{Tagged: tagged}); err != nil {
		t.Fatal(err)
	}
	start := strconv.FormatFloat(float64(r.StartedAt.UnixMilli())/1000, 'f', 3, 64)
	if !strings.Contains(buf.String(), "#[StartTime: "+start+" (seconds since epoch), ") || !strings.Contains(buf.String(), "#[BaseTime: "+start+" (seconds since epoch)]") {
		t.Errorf("StartTime or BaseTime not to the millisecond (%s):\n%.400s", start, buf.String())
	}
	rd := hdrhistogram.NewHistogramLogReader(&buf)
	for i, s := range r.Steps {
		got, err := rd.NextIntervalHistogram()
		if err != nil || got == nil {
			t.Fatalf("step %d: read %v, %v", i, got, err)
		}
		want, err := stats.Decode(s.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: report.StepTag(s)}[tagged]; got.Tag() != want {
			t.Errorf("step %d tag %q, want %q", i, got.Tag(), want)
		}
		if got.TotalCount() != want.TotalCount() || got.TotalCount() != s.Requests {
			t.Errorf("step %d: %d values read back, wrote %d (requests %d)", i, got.TotalCount(), want.TotalCount(), s.Requests)
		}
		for _, q := range []float64{50, 90, 99, 99.9, 100} {
			if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
				t.Errorf("step %d p%g: %d µs read back, %d written", i, q, g, w)
			}
		}
		if !got.Equals(want) {
			t.Errorf("step %d histogram differs after the round trip", i)
		}
		wantStart := s.StartedAt.Add(time.Duration(s.WarmupS * float64(time.Second))).UnixMilli()
		if got.StartTimeMs() != wantStart {
			t.Errorf("step %d starts at %d ms, want %d", i, got.StartTimeMs(), wantStart)
		}
		if d := got.EndTimeMs() - got.StartTimeMs(); d != int64(s.DurationS*1000) {
			t.Errorf("step %d lasts %d ms, want %g s", i, d, s.DurationS)
		}
	}
	if h, err := rd.NextIntervalHistogram(); h != nil || err != nil {
		t.Errorf("extra interval after the last step: %v, %v", h, err)
	}
}

func TestHLogCorruptHistogram(t *testing.T) {
	r := loadFixture(t)
	r.Steps[2].Histogram = "not a histogram"
	err := report.HLog(&bytes.Buffer{}, r, report.HLogOptions{})
	if err == nil || !strings.Contains(err.Error(), "step 2") {
		t.Fatalf("err = %v, want one naming step 2", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	raw, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.JSON(&buf, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Error("JSON output differs from the result.json it was read from")
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	if err := report.WriteAll(dir, loadFixture(t), fixedOptions()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.html"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) < 1000 {
			t.Errorf("%s: %d bytes, %v", f, len(b), err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("dir holds %d entries, want report.md and report.html only", len(ents))
	}
	if err := report.WriteAll(filepath.Join(dir, "missing"), loadFixture(t), fixedOptions()); err == nil {
		t.Error("WriteAll into a missing directory succeeded")
	}
}

func TestNoBestBeforeSaysWhy(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(r *result.Result)
		wants []string
	}{
		{"first step failed", func(r *result.Result) {
			for i := range r.Steps {
				r.Steps[i].SLOPass = false
				r.Steps[i].Failed = []string{"latency.p99"}
			}
		}, []string{"No best-before QPS found", "the first step, at 100 QPS, already broke latency.p99", "lower load.start_qps"}},
		{"generator saturated", func(r *result.Result) {
			for i := range r.Steps {
				r.Steps[i].Generator.Saturated = true
				r.Steps[i].Generator.SaturatedWhy = "send lag p99 above 5 ms"
			}
		}, []string{"every step saturated the load generator (send lag p99 above 5 ms)", "bestbefore calibrate"}},
		{"no steps", func(r *result.Result) {
			r.Steps = nil
			r.NodeLoss = nil
			r.Status = result.StatusInterrupted
			r.Reason = "interrupted by signal"
		}, []string{"no step was measured (run interrupted: interrupted by signal)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := loadFixture(t)
			c.edit(r)
			r.BestBefore = result.BestBefore{Found: false, Step: -1}
			var md, html, sum bytes.Buffer
			if err := report.Markdown(&md, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			if err := report.HTML(&html, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			if err := report.Summary(&sum, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.wants {
				if !strings.Contains(md.String(), w) {
					t.Errorf("report.md lacks %q:\n%.600s", w, md.String())
				}
				if w != "No best-before QPS found" && !strings.Contains(sum.String(), w) {
					t.Errorf("summary lacks %q", w)
				}
			}
			if !strings.Contains(html.String(), `class="headline none"`) {
				t.Error("report.html does not flag the missing best-before")
			}
		})
	}
}

func TestAvailabilityNeverRoundsUpTo100(t *testing.T) {
	r := loadFixture(t)
	r.Steps = r.Steps[:1]
	r.Steps[0].Requests = 1_000_000
	r.Steps[0].Successes = 999_999
	r.Steps[0].Errors = 1
	r.Steps[0].ErrorsByClass = map[string]int64{"timeout": 1}
	var md bytes.Buffer
	if err := report.Markdown(&md, r, fixedOptions()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 1 (timeout 1) | 99.9999% |") {
		t.Errorf("want 99.9999%% availability beside the error class:\n%s", md.String())
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	err := report.Render(&bytes.Buffer{}, "pdf", loadFixture(t), fixedOptions())
	if err == nil || !strings.Contains(err.Error(), `"pdf"`) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkHTML40Steps(b *testing.B) {
	r := buildFixture(40, 800)
	o := fixedOptions()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := report.HTML(&buf, r, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/report")
}

// The objectives table shows each step's own verdict from the catalogue:
// a step that broke only the GC pause objective is marked broken there,
// the default throughput and steady objectives are listed, and the first
// failing column is the step the headline names.
func TestObjectivesTableShowsTheStepsVerdict(t *testing.T) {
	r := loadFixture(t)
	gc, tp, steady := 5.0, 0.97, 0.005
	r.Objectives["gc_pause_p99"], r.Objectives["throughput"], r.Objectives["steady"] = gc, tp, steady
	fail, ok := -1, false
	for i := range r.Steps {
		if r.Steps[i].OfferedQPS == r.BestBefore.FirstFailQPS && !r.Steps[i].SLOPass {
			fail, ok = i, true
			break
		}
	}
	if !ok {
		t.Fatal("fixture has no first failing step")
	}
	r.Steps[fail].Target = &result.TargetResources{GCPauseP99MS: 50}
	r.Steps[fail].Failed = []string{"gc_pause_p99"}
	var md bytes.Buffer
	if err := report.Markdown(&md, r, fixedOptions()); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"| target GC pause p99 | 5.00 ms |",
		"❌ 50.0 ms |",
		"| throughput (share of the scheduled arrivals delivered) | 97.0% |",
		"| steady state (backlog growth, share of the rate) | 0.50% |",
		fmt.Sprintf("at first failing step (%s QPS)", strconv.FormatFloat(r.BestBefore.FirstFailQPS, 'f', -1, 64)),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out[:min(len(out), 2500)])
		}
	}
}

// A report that cannot be written is named in the error, the other one is
// still written, and nothing of an earlier run is left in the failed
// one's place. (A directory where report.html goes makes its rename fail,
// as a full disk would make its write fail.)
func TestWriteAllSaysWhichReportFailed(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "report.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := report.WriteAll(dir, loadFixture(t), fixedOptions())
	if err == nil || !strings.Contains(err.Error(), "report.html") || strings.Contains(err.Error(), "report.md") {
		t.Fatalf("error %v, want one naming report.html only", err)
	}
	if !strings.Contains(err.Error(), "of an earlier run was removed") {
		t.Errorf("error %v does not say the stale report was removed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Error("a stale report.html is still in place")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || len(b) < 1000 {
		t.Errorf("report.md not written: %d bytes, %v", len(b), err)
	}
}

// HdrHistogram's own HistogramLogProcessor reads the interval log as a
// user runs it, with no -tag option: one interval per step, each step's
// requests, and the run's total.
func TestHLogReadByHistogramLogProcessor(t *testing.T) {
	r := loadFixture(t)
	var buf bytes.Buffer
	if err := report.HLog(&buf, r, report.HLogOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.hlog")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ivs, total := hdrref.ProcessLog(t, path)
	if len(ivs) != len(r.Steps) {
		t.Fatalf("the processor read %d intervals, the result has %d steps", len(ivs), len(r.Steps))
	}
	var sum int64
	for i, s := range r.Steps {
		sum += s.Requests
		if ivs[i].Count != s.Requests {
			t.Errorf("interval %d: %d values, step %d has %d requests", i, ivs[i].Count, s.Index, s.Requests)
		}
	}
	if total != sum {
		t.Errorf("overall count %d, want %d", total, sum)
	}
}

// A fixed-rate run answers whether the service held the objectives at its
// rate, and an interrupted ramp says its figure is a lower bound, in every
// report: never "the ramp reached load.max_qps".
func TestFixedRateAndInterruptedRunsSayWhatTheyMeasured(t *testing.T) {
	fixed := func(pass bool, partial bool) func(r *result.Result) {
		return func(r *result.Result) {
			st := r.Steps[0]
			st.Phase, st.OfferedQPS, st.SLOPass, st.Partial = result.PhaseFixed, 300, pass, partial
			st.DurationS, st.WarmupS = 29, 1
			st.Failed = nil
			if !pass {
				st.Failed = []string{"latency.p99"}
			}
			r.Steps = []result.Step{st}
			r.NodeLoss = nil
			r.BestBefore = result.ComputeBestBefore(r.Steps, 1, 1)
		}
	}
	cases := []struct {
		name  string
		edit  func(r *result.Result)
		wants []string
	}{
		{"fixed rate held", fixed(true, false), []string{"Held the objectives at 300 QPS for 30 s", "not a search"}},
		{"fixed rate broken", fixed(false, false), []string{"Did not hold the objectives at 300 QPS: broke latency.p99"}},
		{"fixed rate cut short", fixed(true, true), []string{"Interrupted after 29.0 s at 300 QPS", "no verdict", "(partial: 29.0 s ran)"}},
		{"interrupted ramp", func(r *result.Result) {
			r.Steps = r.Steps[:2]
			for i := range r.Steps {
				r.Steps[i].SLOPass, r.Steps[i].Failed = true, nil
			}
			r.Steps[1].Partial = true
			r.NodeLoss = nil
			r.Status = result.StatusInterrupted
			r.BestBefore = result.ComputeBestBefore(r.Steps, 1, 1)
		}, []string{"interrupted before any step broke an objective", "lower bound", "(partial:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := loadFixture(t)
			c.edit(r)
			var md, html, sum bytes.Buffer
			if err := report.Markdown(&md, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			if err := report.HTML(&html, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			if err := report.Summary(&sum, r, fixedOptions()); err != nil {
				t.Fatal(err)
			}
			flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
			for _, w := range c.wants {
				for name, doc := range map[string]string{"report.md": md.String(), "report.html": html.String(), "summary": sum.String()} {
					if !strings.Contains(flat(doc), w) {
						t.Errorf("%s lacks %q", name, w)
					}
				}
			}
			for _, doc := range []string{md.String(), html.String(), sum.String()} {
				if strings.Contains(doc, "reached load.max_qps") {
					t.Errorf("a %s says the ramp reached load.max_qps", c.name)
				}
			}
		})
	}
}

// The rule that set a best-before below a passing step reaches the
// terminal and both reports.
func TestBestBeforeWhyInEveryReport(t *testing.T) {
	r := loadFixture(t)
	r.BestBefore = result.ComputeBestBefore(r.Steps, r.BestBefore.Nodes, r.BestBefore.SafetyMargin)
	if !r.BestBefore.Found {
		t.Fatal("the fixture has no best-before")
	}
	r.BestBefore.Why = "The step at 1200 QPS passed, but the lowest failing step (1500 QPS) delivered 1185 QPS of goodput."
	var md, html, sum bytes.Buffer
	report.Markdown(&md, r, fixedOptions())
	report.HTML(&html, r, fixedOptions())
	report.Summary(&sum, r, fixedOptions())
	for name, doc := range map[string]string{"report.md": md.String(), "report.html": html.String(), "summary": sum.String()} {
		if !strings.Contains(strings.Join(strings.Fields(doc), " "), "delivered 1185 QPS of goodput") {
			t.Errorf("%s does not say why the best-before is below a passing step", name)
		}
	}
}

// The node-loss text says which rate the hold verified and how it relates
// to the published N-1 figure, in every report.
func TestNodeLossSaysWhichRateItVerified(t *testing.T) {
	for _, tc := range []struct {
		hold func(bb result.BestBefore) float64
		want string
	}{
		{func(bb result.BestBefore) float64 { return bb.NMinus1QPS }, "the published N-1 rate itself"},
		{func(bb result.BestBefore) float64 { return bb.QPS * 2 / 3 }, "the N-1 rate before the safety margin"},
		{func(bb result.BestBefore) float64 { return bb.NMinus1QPS / 2 }, "the hold does not verify the N-1 figure"},
	} {
		r := loadFixture(t)
		if r.NodeLoss == nil {
			t.Fatal("the fixture has no node-loss check")
		}
		r.BestBefore.Nodes, r.BestBefore.SafetyMargin = 3, 0.8
		r.BestBefore.NMinus1QPS = r.BestBefore.QPS * 2 / 3 * 0.8
		r.NodeLoss.QPS = tc.hold(r.BestBefore)
		var md, sum bytes.Buffer
		report.Markdown(&md, r, fixedOptions())
		report.Summary(&sum, r, fixedOptions())
		for name, doc := range map[string]string{"report.md": md.String(), "summary": sum.String()} {
			if !strings.Contains(strings.Join(strings.Fields(doc), " "), tc.want) {
				t.Errorf("%s lacks %q", name, tc.want)
			}
		}
	}
}

// A 4 MiB request path (an endpoint's name) and a long error sample are
// cut in every report, the full name kept in the result: report.html
// stays the size of a report, not of the path.
func TestLongNamesAreCutInReports(t *testing.T) {
	r := loadFixture(t)
	long := "/search?q=" + strings.Repeat("a", 4<<20)
	for i := range r.Steps {
		r.Steps[i].Endpoints = []result.Endpoint{{Name: long, Requests: r.Steps[i].Requests / 2}, {Name: "/health", Requests: r.Steps[i].Requests / 2}}
		r.Steps[i].ErrorKinds = []result.ErrorKind{{Class: "other", Count: 1, Sample: long}}
	}
	r.Errors = result.TabulateErrors(r.Steps)
	var html, md, sum bytes.Buffer
	if err := report.HTML(&html, r, fixedOptions()); err != nil {
		t.Fatal(err)
	}
	report.Markdown(&md, r, fixedOptions())
	report.Summary(&sum, r, fixedOptions())
	for name, n := range map[string]int{"report.html": html.Len(), "report.md": md.Len(), "summary": sum.Len()} {
		if n > 2<<20 {
			t.Errorf("%s is %d bytes for a 4 MiB name", name, n)
		}
	}
	for name, doc := range map[string]string{"report.html": html.String(), "report.md": md.String(), "summary": sum.String()} {
		if strings.Contains(doc, strings.Repeat("a", 1000)) {
			t.Errorf("%s shows a thousand characters of the name", name)
		}
	}
	if len(r.Steps[0].Endpoints[0].Name) != len(long) {
		t.Error("rendering cut the result's own name")
	}
}
