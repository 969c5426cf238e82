package report_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/report"
)

var planDay = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

// planViews are the plans the pictures are tested on: growth fitted to
// 90 days of noisy peaks doubling every 60 days, a given doubling time,
// and a peak already over the N-1 capacity.
func planViews(t testing.TB) map[string]report.PlanView {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 2))
	var hist []capacity.PeakSample
	for i := 0; i < 90; i++ {
		d := planDay.AddDate(0, 0, i-90)
		hist = append(hist, capacity.PeakSample{Date: d, PeakQPS: 260 * math.Exp(math.Ln2/60*float64(i)) * (1 + 0.06*rng.NormFloat64())})
	}
	fit, err := capacity.FitGrowth(hist, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	base := capacity.PlanInput{BestBeforeQPS: 1500, Nodes: 3, SafetyMargin: 0.8, PeakFactor: 1, HorizonDays: 180, Now: planDay}
	withHistory := base
	withHistory.CurrentQPS, withHistory.Growth = fit.PeakAt(planDay), fit.Growth
	rng2 := fit.Range
	withHistory.GrowthRange = &rng2
	doubling := base
	doubling.CurrentQPS, doubling.PeakFactor = 300, 1.5
	doubling.Growth, _ = capacity.ParseDoubling("90d")
	over := base
	over.CurrentQPS, over.Growth = 900, capacity.Growth{RatePerDay: 0.004}
	views := map[string]report.PlanView{}
	for name, in := range map[string]capacity.PlanInput{"history": withHistory, "doubling": doubling, "over-today": over} {
		p, err := capacity.MakePlan(in)
		if err != nil {
			t.Fatal(err)
		}
		v := report.PlanView{Name: "checkout", Plan: p, Range: in.GrowthRange}
		if name == "history" {
			v.History = hist
		}
		views[name] = v
	}
	return views
}

// The Markdown says the answer and, as a table, what the chart shows: the
// projection by month, its range, headroom and the nodes needed, with the
// best-before date as a row of its own.
func TestPlanMarkdown(t *testing.T) {
	v := planViews(t)["history"]
	var buf bytes.Buffer
	if err := report.PlanMarkdown(&buf, v, fixedOptions()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	p := v.Plan
	if p.BestBeforeDate == nil {
		t.Fatalf("the history plan has no best-before date: %+v", p)
	}
	for _, want := range []string{
		"> **Best-before " + *p.BestBeforeDate + ": in ",
		"| date | projected peak (QPS) | 90% range (QPS) | headroom at N-1 | nodes needed |",
		"| " + *p.BestBeforeDate + " (best-before) | 800 |",
		"| 2026-12-04 |",
		"| " + p.HorizonDate + " |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("plan Markdown lacks %q:\n%s", want, md)
		}
	}
	// The nodes needed never fall, and reach the plan's own figure.
	rows := strings.Split(strings.TrimSpace(md[strings.Index(md, "| 2026-12-04"):strings.Index(md, "**Assumes")]), "\n")
	last := rows[len(rows)-1]
	if !strings.HasSuffix(last, "| "+itoa(p.NodesNeededAtHorizon)+" |") {
		t.Errorf("last row %q, want %d nodes at the horizon", last, p.NodesNeededAtHorizon)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// historyViews is a scenario's 30 runs, its best-before dropping a fifth at
// the 20th, with the change marked at that commit.
func historyViews() []report.HistoryView {
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(9, 9))
	v := report.HistoryView{Scenario: "checkout", Machine: "AMD EPYC 7B13 ×2", SLOP99MS: 100, PeakQPS: 600}
	for i := 0; i < 30; i++ {
		bb := 1000.0
		if i >= 20 {
			bb = 800
		}
		bb *= 1 + 0.03*rng.NormFloat64()
		v.Points = append(v.Points, report.HistoryPoint{Time: t0.Add(time.Duration(i) * 20 * time.Hour), Commit: fmt.Sprintf("%040x", i), Branch: "main",
			BestBeforeQPS: bb, NMinus1QPS: bb * 0.53, P99MS: 60 + 5*rng.NormFloat64()})
	}
	v.BestBeforeChanges = []report.HistoryChange{{Time: v.Points[20].Time, Commit: v.Points[20].Commit, Relative: -0.2}}
	return []report.HistoryView{v}
}

func TestHistoryHTMLInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	var buf bytes.Buffer
	if err := report.HistoryHTML(&buf, historyViews(), fixedOptions()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{">-20% at 000000000000<", ">planned peak 600<", ">SLO p99 100 ms<"} {
		if !strings.Contains(page, want) {
			t.Errorf("history page lacks %q", want)
		}
	}
	testserver.Serialize(t)
	checkInBrowser(t, chromium, "history", page, report.HistoryChartNames, true)
}
