package plan_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdPlan "github.com/bestbefore/bestbefore/cmd/plan"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// planJSON mirrors the fields of `plan --json` a user's script reads.
type planJSON struct {
	Result              string   `json:"result"`
	Nodes               int      `json:"nodes"`
	SafetyMargin        float64  `json:"safety_margin"`
	PerNodeQPS          float64  `json:"per_node_qps"`
	CapacityNQPS        float64  `json:"capacity_n_qps"`
	CapacityNMinus1QPS  float64  `json:"capacity_n_minus_1_qps"`
	PeakQPS             float64  `json:"peak_qps"`
	HeadroomNMinus1Pct  *float64 `json:"headroom_n_minus_1_pct"`
	DaysUntilBestBefore *float64 `json:"days_until_best_before"`
	BestBeforeDate      *string  `json:"best_before_date"`
	NodesNeeded         int      `json:"nodes_needed_at_horizon"`
	HorizonDate         string   `json:"horizon_date"`
	Growth              struct {
		DoublingDays *float64 `json:"doubling_days"`
		Source       string   `json:"source"`
	} `json:"growth"`
	Range *struct {
		Level    float64 `json:"level"`
		Earliest *string `json:"earliest"`
		Latest   *string `json:"latest"`
	} `json:"best_before_range"`
	History *struct {
		RatePerDay float64 `json:"rate_per_day"`
		RateLow    float64 `json:"rate_low"`
		RateHigh   float64 `json:"rate_high"`
		Samples    int     `json:"samples"`
	} `json:"history"`
	Model *struct {
		Knee *struct {
			QPS float64 `json:"qps"`
		} `json:"knee"`
		USL *struct {
			PeakQPS float64 `json:"peak_qps"`
		} `json:"usl"`
	} `json:"model"`
}

// run executes the command as a user would and returns stdout, stderr and
// the exit code.
func run(t *testing.T, args string) (string, string, int) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	cmd := cmdPlan.NewCmdPlan(f, nil)
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.BadInput(err) })
	err := cmd.Execute()
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

func runJSON(t *testing.T, args string) planJSON {
	t.Helper()
	out, errOut, code := run(t, args+" --json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	return p
}

func TestPlan_JSON(t *testing.T) {
	// testdata/result.json: 1500 QPS on 3 nodes, safety margin 0.8, so
	// 500 per node and 800 QPS with one node lost. Peak today 200 QPS,
	// doubling every 60 days: 800 is two doublings away, 120 days.
	p := runJSON(t, "testdata/result.json --current-qps 100 --peak-factor 2 --doubling 60d --now 2026-11-26")
	if p.Nodes != 3 || p.SafetyMargin != 0.8 || p.PerNodeQPS != 500 || p.CapacityNQPS != 1200 || p.CapacityNMinus1QPS != 800 || p.PeakQPS != 200 {
		t.Errorf("capacity figures %+v", p)
	}
	if p.HeadroomNMinus1Pct == nil || math.Abs(*p.HeadroomNMinus1Pct-75) > 1e-9 {
		t.Errorf("headroom %v, want 75%%", p.HeadroomNMinus1Pct)
	}
	if p.DaysUntilBestBefore == nil || math.Abs(*p.DaysUntilBestBefore-120) > 1e-9 || *p.BestBeforeDate != "2027-03-26" {
		t.Fatalf("best-before %v %v, want 120 days, 2027-03-26", p.DaysUntilBestBefore, p.BestBeforeDate)
	}
	// Horizon 180 d: 200 × 8 = 1600 QPS needs 1600/400 + 1 = 5 nodes.
	if p.NodesNeeded != 5 || p.HorizonDate != "2027-05-25" {
		t.Errorf("horizon: %d nodes on %s, want 5 on 2027-05-25", p.NodesNeeded, p.HorizonDate)
	}
	if p.Growth.Source != "--doubling 60d" || p.Growth.DoublingDays == nil || math.Abs(*p.Growth.DoublingDays-60) > 1e-9 {
		t.Errorf("growth %+v", p.Growth)
	}
	if p.Model == nil || p.Model.Knee == nil || p.Model.Knee.QPS != 1500 {
		t.Errorf("knee %+v, want at 1500 QPS (p99 24 ms, then 60 ms, over 2 × the 9.5 ms baseline)", p.Model.Knee)
	}
}

func TestPlan_Overrides(t *testing.T) {
	// 4 nodes and no margin: 375 per node, N-1 = 1125; 5%/week from a
	// peak of 562.5 doubles in 7·ln2/ln1.05 = 99.44 days: 2027-03-05.
	p := runJSON(t, "testdata/result.json --current-qps 562.5 --growth 5%/week --nodes 4 --safety-margin 1 --now 2026-11-26")
	want := 7 * math.Ln2 / math.Log(1.05)
	if p.CapacityNMinus1QPS != 1125 || p.DaysUntilBestBefore == nil || math.Abs(*p.DaysUntilBestBefore-want) > 1e-9 {
		t.Fatalf("N-1 %g, days %v; want 1125, %g", p.CapacityNMinus1QPS, p.DaysUntilBestBefore, want)
	}
	if *p.BestBeforeDate != "2027-03-05" {
		t.Errorf("date %s, want 2027-03-05", *p.BestBeforeDate)
	}
	// Beyond a 90-day horizon: null, not a made-up date.
	p = runJSON(t, "testdata/result.json --current-qps 562.5 --growth 5%/week --nodes 4 --safety-margin 1 --now 2026-11-26 --horizon 90d")
	if p.DaysUntilBestBefore != nil || p.BestBeforeDate != nil {
		t.Errorf("beyond the horizon: %v %v, want null", *p.DaysUntilBestBefore, *p.BestBeforeDate)
	}
}

func TestPlan_Text(t *testing.T) {
	out, errOut, code := run(t, "testdata/result.json --current-qps 100 --peak-factor 2 --doubling 60d --now 2026-11-26")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Capacity plan for checkout, as of 2026-11-26",
		"1500 QPS on 3 nodes (500 QPS per node), limited by latency.p99",
		"800 QPS on 2 if one is lost",
		"200 QPS (100 QPS mean × 2)",
		"2027-03-26, in 120 days",
		"needs 5 nodes to survive losing one, 2 more than today",
		"p99 climbs past 2× its low-load value at 1500 QPS",
		"per-node capacity scales linearly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestPlan_HistoryExact(t *testing.T) {
	// testdata/history-exact.csv doubles every 60 days from 200 QPS on
	// 2026-10-01 to 2026-11-25. On 2026-11-26 (day 56) the trend is at
	// 200·2^(56/60); it reaches 800 on day 120, 2027-01-29, 64 days on.
	p := runJSON(t, "testdata/result.json --history testdata/history-exact.csv --now 2026-11-26")
	if p.History == nil || p.History.Samples != 56 {
		t.Fatalf("history %+v", p.History)
	}
	if math.Abs(p.History.RatePerDay-math.Ln2/60) > 1e-9 {
		t.Errorf("rate %g, want ln2/60 = %g", p.History.RatePerDay, math.Ln2/60)
	}
	if w := p.History.RateHigh - p.History.RateLow; w > 1e-9 {
		t.Errorf("interval width %g on exact data, want ~0", w)
	}
	if p.DaysUntilBestBefore == nil || math.Abs(*p.DaysUntilBestBefore-64) > 1e-6 || *p.BestBeforeDate != "2027-01-29" {
		t.Fatalf("best-before %v %v, want 64 days, 2027-01-29", p.DaysUntilBestBefore, p.BestBeforeDate)
	}
	if p.Range == nil || *p.Range.Earliest != "2027-01-29" || *p.Range.Latest != "2027-01-29" || p.Range.Level != 0.9 {
		t.Errorf("range %+v, want 2027-01-29 both ends at 90%%", p.Range)
	}
}

func TestPlan_HistoryNoisy(t *testing.T) {
	// 60 days of peaks growing 1.5%/day (doubling in 46.6 days) with 8%
	// log-normal noise, seeded. The 90% range must hold the true rate and
	// the true best-before date.
	rate := math.Log(1.015)
	rng := rand.New(rand.NewPCG(2026, 11))
	t0 := time.Date(2026, 9, 27, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("date,peak_qps\n")
	for d := range 60 {
		fmt.Fprintf(&b, "%s,%.2f\n", t0.AddDate(0, 0, d).Format(time.DateOnly), 150*math.Exp(rate*float64(d)+0.08*rng.NormFloat64()))
	}
	path := filepath.Join(t.TempDir(), "noisy.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := runJSON(t, "testdata/result.json --history "+path+" --now 2026-11-26")
	h := p.History
	if !(h.RateLow < rate && rate < h.RateHigh) {
		t.Errorf("90%% interval [%g, %g] misses the true rate %g", h.RateLow, h.RateHigh, rate)
	}
	if h.RateHigh-h.RateLow > 0.5*rate {
		t.Errorf("interval [%g, %g] too wide to be useful for 60 samples", h.RateLow, h.RateHigh)
	}
	// True trend on 2026-11-26 (day 60): 150·1.015^60; it reaches 800 on
	// day log(800/150)/rate.
	trueDay := math.Log(800/150.0) / rate
	trueDate := t0.AddDate(0, 0, int(trueDay)).Format(time.DateOnly)
	if p.Range == nil || p.Range.Earliest == nil || p.Range.Latest == nil {
		t.Fatalf("range %+v", p.Range)
	}
	if !(*p.Range.Earliest <= trueDate && trueDate <= *p.Range.Latest) {
		t.Errorf("range %s..%s misses the true date %s", *p.Range.Earliest, *p.Range.Latest, trueDate)
	}
	t.Logf("true %s, estimate %s, range %s..%s", trueDate, *p.BestBeforeDate, *p.Range.Earliest, *p.Range.Latest)
}

func TestPlan_BadInput(t *testing.T) {
	cases := []struct{ args, want string }{
		{"testdata/missing.json --current-qps 1 --doubling 60d", "testdata/missing.json does not exist"},
		{"testdata/corrupt.json --current-qps 1 --doubling 60d", "corrupt.json"},
		{"testdata/wrong-schema.json --current-qps 1 --doubling 60d", "schema"},
		{"testdata/no-best-before.json --current-qps 1 --doubling 60d", "no best-before QPS was found"},
		{"testdata/result.json --current-qps 1 --doubling sixty", "--doubling"},
		{"testdata/result.json --current-qps 1 --growth 5%/fortnight", "unknown period \"fortnight\""},
		{"testdata/result.json --current-qps 1 --growth 5/week", "--growth"},
		{"testdata/result.json --current-qps 1", "give exactly one of --doubling"},
		{"testdata/result.json --current-qps 1 --doubling 60d --growth 5%/week", "give exactly one of"},
		{"testdata/result.json --doubling 60d", "--current-qps is required"},
		{"testdata/result.json --current-qps -5 --doubling 60d", "--current-qps must be zero or more"},
		{"testdata/result.json --current-qps 1 --doubling 60d --nodes 0", "--nodes must be at least 1"},
		{"testdata/result.json --current-qps 1 --doubling 60d --safety-margin 1.5", "--safety-margin must be in (0, 1]"},
		{"testdata/result.json --current-qps 1 --doubling 60d --peak-factor 0", "--peak-factor must be positive"},
		{"testdata/result.json --current-qps 1 --doubling 60d --horizon soon", "--horizon"},
		{"testdata/result.json --current-qps 1 --doubling 60d --now 26/11/2026", "--now"},
		{"testdata/result.json --history testdata/history-bad.csv", "testdata/history-bad.csv:3: peak_qps: \"two hundred\" is not a number"},
		{"testdata/result.json --history testdata/nope.csv", "--history"},
		{"testdata/result.json --current-qps abc --doubling 60d", "invalid argument"},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			out, errOut, code := run(t, c.args)
			if code != cmdutil.ExitBadInput {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errOut)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("message %q lacks %q", errOut, c.want)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
}

func TestNewCmdPlan_Flags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *cmdPlan.Options
	cmd := cmdPlan.NewCmdPlan(&cmdutil.Factory{IOStreams: ios}, func(o *cmdPlan.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"r.json", "--current-qps", "250", "--doubling", "60d", "--nodes", "5"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.ResultPath != "r.json" || got.CurrentQPS != 250 || got.Doubling != "60d" || got.Nodes != 5 || !got.NodesSet || got.MarginSet || got.PeakFactor != 1 || got.Horizon != "180d" || got.Level != 0.9 {
		t.Errorf("options %+v", got)
	}
}

// --html and --md write the plan's pictures beside the text: the page
// draws the best-before date, today, the horizon and both capacities;
// the Markdown gives the same projection as a table.
func TestPlan_HTMLAndMarkdown(t *testing.T) {
	dir := t.TempDir()
	page, md := filepath.Join(dir, "plan.html"), filepath.Join(dir, "plan.md")
	out, errOut, code := run(t, "testdata/result.json --current-qps 100 --peak-factor 2 --doubling 60d --now 2026-11-26 --html "+page+" --md "+md)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Best-before date     2027-03-26") {
		t.Errorf("the text plan is still printed; got:\n%s", out)
	}
	h, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-chart="plan-peak"`, `data-chart="plan-nodes"`, ">best-before 2027-03-26<", ">today<", ">horizon<", ">N-1 capacity 800<", ">N capacity 1200 (3 nodes)<", "default-src 'none'"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("plan.html lacks %q", want)
		}
	}
	m, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Best-before 2027-03-26: in 120 days", "| 2027-03-26 (best-before) | 800 | 0% | 3 |", "| 2027-05-25 | 1600 | \\-100% | 5 |"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("plan.md lacks %q:\n%s", want, m)
		}
	}
}

// A plan on a lower bound (a ramp that reached max_qps) gives "no earlier
// than" dates; a failed node-loss check and the lower bound appear as
// caveats in every format; one node says there is no N-1 headroom
// instead of "TODAY's peak already exceeds the N-1 capacity (0 QPS)".
func TestPlan_CaveatsInEveryFormat(t *testing.T) {
	b, err := os.ReadFile("testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	write := func(name string, edit func(bb map[string]any)) string {
		var c map[string]any
		json.Unmarshal(b, &c)
		edit(c["best_before"].(map[string]any))
		if name == "capped" {
			c["node_loss"] = map[string]any{"qps": 800, "node": "3", "lost_at_s": 4, "held": false, "transition_errors": 40,
				"time_to_recover_s": nil, "never_recovered": true, "step": 8, "restored": true}
		}
		out, _ := json.Marshal(c)
		p := filepath.Join(t.TempDir(), name+".json")
		os.WriteFile(p, out, 0o644)
		return p
	}
	capped := write("capped", func(bb map[string]any) { bb["limited_by"] = "max_qps"; delete(bb, "first_fail_qps") })
	dir := t.TempDir()
	page, md := filepath.Join(dir, "plan.html"), filepath.Join(dir, "plan.md")
	out, errOut, code := run(t, capped+" --current-qps 100 --peak-factor 2 --doubling 60d --now 2026-11-26 --html "+page+" --md "+md)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	h, _ := os.ReadFile(page)
	m, _ := os.ReadFile(md)
	for name, doc := range map[string]string{"text": out, "plan.html": string(h), "plan.md": string(m)} {
		for _, want := range []string{"no earlier than 2027-03-26", "lower bound", "node-loss check did not hold"} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}

	one := write("one", func(bb map[string]any) { bb["nodes"] = 1; bb["n_minus_1_qps"] = 0 })
	out, errOut, code = run(t, one+" --current-qps 100 --peak-factor 2 --doubling 60d --now 2026-11-26")
	if code != 0 {
		t.Fatalf("one node: exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "N-1 capacity (0 QPS)") || strings.Contains(out, "TODAY") || !strings.Contains(out, "no N-1 headroom") {
		t.Errorf("one node:\n%s", out)
	}
}

// A plan in output tokens: the best-before in tokens/s of a run that
// streamed (here 150 QPS × 34 tokens = 5,100 tokens/s on 2 nodes,
// margin 0.8: 2,040 tokens/s with one lost), today's load in tokens/s,
// every figure said in tokens/s; a run that streamed nothing cannot be
// planned in tokens (exit 2, naming the field).
func TestPlan_Tokens(t *testing.T) {
	r, err := result.Read("testdata/result.json")
	if err != nil {
		t.Fatal(err)
	}
	r.BestBefore.Nodes, r.BestBefore.OutputTokensPerS = 2, 5100
	path := filepath.Join(t.TempDir(), "llm.json")
	if err := result.Write(path, r); err != nil {
		t.Fatal(err)
	}
	p := runJSON(t, path+" --unit tokens --current-qps 1020 --doubling 30d --now 2026-11-26")
	if p.CapacityNMinus1QPS != 2040 || p.PeakQPS != 1020 || p.DaysUntilBestBefore == nil || math.Abs(*p.DaysUntilBestBefore-30) > 1e-9 {
		t.Errorf("plan in tokens: N-1 %v, peak %v, days %v; want 2040, 1020, 30", p.CapacityNMinus1QPS, p.PeakQPS, p.DaysUntilBestBefore)
	}
	out, _, code := run(t, path+" --unit tokens --current-qps 1020 --doubling 30d --now 2026-11-26")
	if code != 0 || !strings.Contains(out, "2040 tokens/s on 1 if one is lost") || strings.Contains(out, "QPS") || strings.Contains(out, "Latency knee") {
		t.Errorf("text in tokens:\n%s", out)
	}
	_, errOut, code := run(t, "testdata/result.json --unit tokens --current-qps 10 --doubling 30d")
	if code != 2 || !strings.Contains(errOut, "best_before.output_tokens_per_s") {
		t.Errorf("a run without tokens: exit %d, %s", code, errOut)
	}
}
