package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/stats"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// Empirical is the distribution of service times a real run measured,
// drawn from its histogram (Dist.Scale stretches it).
const Empirical = "empirical"

// bin is one bucket of an empirical distribution: values from..to (µs),
// and how many of the draws fall at or below it.
type bin struct {
	from, to float64
	cum      int64
}

// NewEmpirical returns the distribution of the values in h (µs), each
// drawn uniformly within its bucket, stretched by scale.
func NewEmpirical(h *hdrhistogram.Histogram, scale float64) (Dist, error) {
	if h == nil || h.TotalCount() == 0 {
		return Dist{}, errors.New("no service times to draw from")
	}
	var bins []bin
	var cum int64
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		cum += b.Count
		bins = append(bins, bin{float64(b.From), float64(b.To), cum})
	}
	d := Dist{Kind: Empirical, Mean: time.Duration(h.Mean() * scale * float64(time.Microsecond)), Spread: scale, bins: bins}
	return d, nil
}

// drawEmpirical draws one value of an empirical distribution.
func (d Dist) drawEmpirical(rng *rand.Rand) float64 {
	total := d.bins[len(d.bins)-1].cum
	u := rng.Int64N(total)
	i := sort.Search(len(d.bins), func(i int) bool { return d.bins[i].cum > u })
	b := d.bins[i]
	return (b.from + rng.Float64()*(b.to-b.from)) * d.Spread * float64(time.Microsecond)
}

// Model is a simulated service fitted to a real run: its service times as
// measured at the run's lowest passing load, and as many slots as the
// goodput it delivered when saturated needs, the service times stretched
// so that those slots deliver that goodput exactly.
type Model struct {
	Service Service
	// Nodes is the number of nodes the run's scenario declares; the
	// slots are spread over them.
	Nodes int
	// ServiceStep is the index of the step whose service times were read;
	// SaturatedQPS the goodput the slots were fitted to.
	ServiceStep  int
	SaturatedQPS float64
}

// Fit fits a Model to a result. It needs a step that passed (for the
// service times) and a step that broke a throughput or steady-state
// objective without saturating the generator (for the goodput at
// capacity): a run that never loaded the service to its capacity has
// nothing to fit the slots to, and Fit says so.
func Fit(r *result.Result) (Model, error) {
	m := Model{Nodes: max(1, r.BestBefore.Nodes), ServiceStep: result.ServiceStep(r.Steps)}
	if m.ServiceStep < 0 {
		return m, errors.New("no step passed with 50 requests or more: there are no service times of a healthy service to fit")
	}
	var saturated []float64
	for _, st := range r.Steps {
		if st.Phase == result.PhaseHold || st.Generator.Saturated || st.Remeasured || st.Partial {
			continue
		}
		if slices.Contains(st.Failed, "throughput") || slices.Contains(st.Failed, "steady") {
			saturated = append(saturated, st.AchievedQPS)
		}
	}
	if len(saturated) == 0 {
		return m, fmt.Errorf("the run never loaded the service to its capacity (no step broke the throughput or steady-state objective; limited by %s): there is no goodput at capacity to fit the slots to; ramp past the best-before", r.BestBefore.LimitedBy)
	}
	slices.Sort(saturated)
	m.SaturatedQPS = saturated[len(saturated)/2]
	h, err := stats.Decode(r.Steps[m.ServiceStep].ServiceHistogram)
	if err != nil {
		return m, fmt.Errorf("step %d: %w", m.ServiceStep, err)
	}
	d, err := NewEmpirical(h, 1)
	if err != nil {
		return m, fmt.Errorf("step %d: %w", m.ServiceStep, err)
	}
	slots := max(1, int(math.Round(m.SaturatedQPS*d.Mean.Seconds())))
	// The service times at the lowest load still hold some queueing (and
	// a histogram bucket's width): stretch them so that the slots deliver
	// exactly the goodput the service delivered when saturated.
	stretch := float64(slots) / (m.SaturatedQPS * d.Mean.Seconds())
	d.Spread *= stretch
	d.Mean = time.Duration(float64(d.Mean) * stretch)
	m.Service = Service{Slots: slots, Time: d}
	return m, nil
}

// WhatIf is a change to a fitted model.
type WhatIf struct {
	// ServiceScale multiplies every service time (1.2: 20% slower).
	ServiceScale float64
	// Nodes, when set, changes the node count, the slots with it.
	Nodes int
}

// With returns the model changed by w.
func (m Model) With(w WhatIf) Model {
	if w.ServiceScale > 0 && w.ServiceScale != 1 {
		d := m.Service.Time
		d.Spread *= w.ServiceScale
		d.Mean = time.Duration(float64(d.Mean) * w.ServiceScale)
		m.Service.Time = d
	}
	if w.Nodes > 0 && w.Nodes != m.Nodes {
		m.Service.Slots = max(1, int(math.Round(float64(m.Service.Slots)*float64(w.Nodes)/float64(m.Nodes))))
		m.Nodes = w.Nodes
	}
	return m
}

// Scenario reads the scenario a result ran (its manifest's effective
// scenario), with overrides (--set) on top.
func Scenario(r *result.Result, overrides []string) (*scenario.Scenario, error) {
	y := r.Manifest.EffectiveYAML
	if y == "" {
		return nil, errors.New("the result does not hold the scenario it ran (manifest.effective_scenario)")
	}
	name := r.Manifest.Scenario
	if name == "" {
		name = "scenario.yaml"
	}
	s, err := scenario.Parse([]byte(y), filepath.Base(name), filepath.Dir(name), overrides)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Predict ramps the model with the scenario, as the run did, in virtual
// time, and returns the result a real run would have written.
func (m Model) Predict(ctx context.Context, s *scenario.Scenario, seed uint64) (*result.Result, error) {
	if err := m.Service.Validate(); err != nil {
		return nil, err
	}
	c := *s
	c.Capacity.Nodes = m.Nodes
	return sweep.Run(ctx, sweep.Config{Scenario: &c, Stepper: NewStepper(m.Service, s.Load.Timeout.D(), seed)})
}
