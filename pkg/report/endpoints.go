package report

import (
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// endpointColumn is a step the endpoint table shows.
type endpointColumn struct {
	label string
	step  result.Step
}

// endpointColumns are the best-before step and the first failing one or,
// without either, the last step.
func endpointColumns(r *result.Result) []endpointColumn {
	var cols []endpointColumn
	if s, ok := bestStep(r); ok {
		cols = append(cols, endpointColumn{fmt.Sprintf("at best-before (%s QPS)", fmtQPS(s.OfferedQPS)), s})
	}
	if s, ok := firstFailStep(r); ok {
		cols = append(cols, endpointColumn{fmt.Sprintf("at first failing step (%s QPS)", fmtQPS(s.OfferedQPS)), s})
	}
	if len(cols) == 0 && len(r.Steps) > 0 {
		s := r.Steps[len(r.Steps)-1]
		cols = append(cols, endpointColumn{fmt.Sprintf("at the last step (%s QPS)", fmtQPS(s.OfferedQPS)), s})
	}
	return cols
}

// Endpoint groups worth a breakdown: a step with two groups or more.
func hasEndpoints(r *result.Result) bool {
	for _, s := range r.Steps {
		if len(s.Endpoints) >= 2 {
			return true
		}
	}
	return false
}

// endpointNames lists the groups of the run's steps in the order first
// met, the group of all other endpoints last.
func endpointNames(r *result.Result) []string {
	var names []string
	seen := map[string]bool{}
	other := false
	for _, s := range r.Steps {
		for _, e := range s.Endpoints {
			if e.Name == traffic.OtherEndpoint {
				other = true
				continue
			}
			if !seen[e.Name] {
				seen[e.Name] = true
				names = append(names, e.Name)
			}
		}
	}
	if other {
		names = append(names, traffic.OtherEndpoint)
	}
	return names
}

// endpointOf returns the figures of group name in step s.
func endpointOf(s result.Step, name string) (result.Endpoint, bool) {
	for _, e := range s.Endpoints {
		if e.Name == name {
			return e, true
		}
	}
	return result.Endpoint{}, false
}

// share is the group's share of the step's requests.
func share(s result.Step, e result.Endpoint) float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(e.Requests) / float64(s.Requests)
}

// A slowEndpoint is a group much slower than the rest of its step.
type slowEndpoint struct {
	Name        string
	P99, RestMS float64
	QPS         float64
}

// minSlowRequests is the fewest requests, in the group and in the rest,
// from which a p99 is compared at all.
const minSlowRequests = 20

// slowEndpoints names the groups whose p99 at the best-before step is at
// least twice the p99 of every other request of that step.
func slowEndpoints(r *result.Result) []slowEndpoint {
	s, ok := bestStep(r)
	if !ok || len(s.Endpoints) < 2 {
		return nil
	}
	hs := make([]*hdrhistogram.Histogram, len(s.Endpoints))
	for i, e := range s.Endpoints {
		if e.Histogram == "" {
			continue
		}
		h, err := stats.Decode(e.Histogram)
		if err != nil {
			return nil
		}
		hs[i] = h
	}
	var out []slowEndpoint
	for i, e := range s.Endpoints {
		if e.Requests < minSlowRequests || hs[i] == nil {
			continue
		}
		rest := stats.New()
		for j, h := range hs {
			if j != i && h != nil {
				stats.Merge(rest, h)
			}
		}
		if rest.TotalCount() < minSlowRequests {
			continue
		}
		restP99 := stats.QuantileMS(rest, 99)
		if e.P99MS >= 2*restP99 && e.P99MS-restP99 >= 1 {
			out = append(out, slowEndpoint{Name: e.Name, P99: e.P99MS, RestMS: restP99, QPS: s.OfferedQPS})
		}
	}
	return out
}

func (e slowEndpoint) String() string {
	return fmt.Sprintf("%s is much slower than the other endpoints at the best-before (%s QPS): p99 %s against %s", e.Name, fmtQPS(e.QPS), fmtMS(e.P99), fmtMS(e.RestMS))
}

// endpointChart plots each group's p99 against the offered load.
func endpointChart(r *result.Result, steps []result.Step) *chart {
	c := &chart{Name: "endpoints", Title: "p99 by endpoint vs offered load", X: axis{Label: "offered load (QPS)"}, Y: axis{Label: "p99 (log)", Log: true, Format: tickMS}}
	for _, name := range endpointNames(r) {
		var pts []point
		for _, s := range steps {
			if e, ok := endpointOf(s, name); ok && e.Histogram != "" {
				pts = append(pts, point{s.OfferedQPS, e.P99MS})
			}
		}
		n := name
		c.Series = append(c.Series, series{Name: n, Points: pts, Tip: func(p point) string {
			return fmt.Sprintf("%s · %s QPS · p99 %s", n, fmtQPS(p.X), fmtMS(p.Y))
		}})
	}
	c.HLines = sloLines(r)
	if r.BestBefore.Found {
		c.VLines = []refLine{{Value: r.BestBefore.QPS, Label: "best-before " + fmtQPS(r.BestBefore.QPS), Color: "#16a34a"}}
	}
	return c
}
