package capacity_test

import (
	"fmt"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

func ExampleDaysUntil() {
	g, _ := capacity.ParseGrowth("doubling 60d")
	days, _ := capacity.DaysUntil(100, 400, g)
	fmt.Printf("%.0f days\n", days)
	// Output: 120 days
}

func ExampleMakePlan() {
	g, _ := capacity.ParseGrowth("doubling 60d")
	p, _ := capacity.MakePlan(capacity.PlanInput{
		BestBeforeQPS: 1500, Nodes: 3, SafetyMargin: 0.8,
		CurrentQPS: 100, PeakFactor: 2, Growth: g,
		HorizonDays: 180, Now: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
	})
	fmt.Printf("N-1 capacity %.0f QPS, best before %s, %d nodes at the horizon\n",
		p.CapacityNMinus1QPS, *p.BestBeforeDate, p.NodesNeededAtHorizon)
	// Output: N-1 capacity 800 QPS, best before 2027-03-26, 5 nodes at the horizon
}

func ExampleFitUSL() {
	m, _ := capacity.FitUSL(specsdm91)
	n, x := m.Peak()
	fmt.Printf("σ=%.4f κ=%.7f λ=%.2f peak %.0f at N=%.0f\n", m.Sigma, m.Kappa, m.Lambda, x, n)
	// Output: σ=0.0277 κ=0.0001044 λ=90.00 peak 1884 at N=97
}
