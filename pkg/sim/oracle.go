package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/pace"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// Case is one configuration of the oracle: a simulated service, the
// arrivals and ramp a user could choose against it, and objectives.
type Case struct {
	Seed       uint64
	Service    Service
	Arrival    string
	Burstiness float64
	Step       time.Duration
	// StartQPS, StepQPS and MaxQPS are the ramp.
	StartQPS, StepQPS, MaxQPS float64
	// P99 is the latency objective; Tight says it was drawn near the
	// service's own p99, so that latency, not capacity, limits the
	// best-before.
	P99   time.Duration
	Tight bool
}

// Name is a short label of the case for tables and test names.
func (c Case) Name() string {
	a := c.Arrival
	if c.Arrival == pace.ProcessBursty {
		a = fmt.Sprintf("bursty(%.2g)", c.Burstiness)
	}
	return fmt.Sprintf("%s, %s, %v steps, p99 ≤ %v", c.Service, a, c.Step, c.P99)
}

// Timeout is the request timeout of the case's runs: twice the latency
// objective, at least 2 s.
func (c Case) Timeout() time.Duration { return max(2*time.Second, 2*c.P99) }

// Scenario writes the case as a scenario a user could have written.
func (c Case) Scenario(steps []float64) (*scenario.Scenario, error) {
	load := fmt.Sprintf("  start_qps: %g\n  step_qps: %g\n  max_qps: %g\n  refine: 4\n", c.StartQPS, c.StepQPS, c.MaxQPS)
	if steps != nil {
		load = fmt.Sprintf("  steps: %v\n  stop_after_failures: 1000\n", fmtList(steps))
	}
	burst := ""
	if c.Arrival == pace.ProcessBursty {
		burst = fmt.Sprintf("  burstiness: %g\n", c.Burstiness)
	}
	y := fmt.Sprintf(`name: oracle
seed: %d
target: {url: "http://127.0.0.1:9/"}
traffic: {file: none.ndjson}
load:
  arrival: %s
%s%s  step_duration: %v
  timeout: %v
slo:
  latency: {p99: %v}
  error_rate: 0.1%%
`, int64(c.Seed>>1)|1, c.Arrival, burst, load, c.Step, c.Timeout(), c.P99)
	return scenario.Parse([]byte(y), "oracle.yaml", ".", nil)
}

func fmtList(v []float64) string {
	out := "["
	for i, q := range v {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.6g", q)
	}
	return out + "]"
}

// Run ramps the case's simulated service through sweep.Run, as a real run
// ramps a real one.
func (c Case) Run(ctx context.Context) (*result.Result, error) {
	return c.run(ctx, nil)
}

func (c Case) run(ctx context.Context, rates []float64) (*result.Result, error) {
	s, err := c.Scenario(rates)
	if err != nil {
		return nil, err
	}
	return sweep.Run(ctx, sweep.Config{Scenario: s, Stepper: NewStepper(c.Service, c.Timeout(), c.Seed)})
}

// MinRequestsAtCapacity is the fewest requests a step's measured window
// must hold at the service's capacity for a case to be drawn: twice what
// the steady-state test needs (result.SteadyMinRequests). Against a
// slower service, or with shorter steps, a run finds no best-before and
// says the steps are too short, which the oracle checks separately.
const MinRequestsAtCapacity = 2 * result.SteadyMinRequests

// Cases draws n configurations from seed: 1-64 slots, mean service
// times of 1-200 ms (capacities up to 4,000 QPS), every distribution and
// arrival process, steps of 1-10 s, loose objectives and tight ones, with
// errors and stalls in some.
func Cases(seed uint64, n int) []Case {
	rng := rand.New(rand.NewPCG(seed, 0x853c49e6748fea9b))
	out := make([]Case, 0, n)
	for len(out) < n {
		c := Case{Seed: rng.Uint64()}
		k := int(math.Round(math.Exp(rng.Float64() * math.Log(64))))
		mean := time.Duration(math.Exp(math.Log(1)+rng.Float64()*math.Log(200))*1e6) * time.Nanosecond
		if float64(k)/mean.Seconds() > 4000 {
			continue // keeps the event count of a case sane
		}
		c.Service = Service{Slots: k, Time: Dist{Kind: Distributions[rng.IntN(len(Distributions))], Mean: mean}}
		switch c.Service.Time.Kind {
		case Uniform:
			c.Service.Time.Spread = rng.Float64()
		case Lognormal:
			c.Service.Time.Spread = 0.3 + 1.2*rng.Float64()
		case Bimodal:
			c.Service.Time.Spread = 0.02 + 0.18*rng.Float64()
		}
		if rng.IntN(5) == 0 {
			c.Service.ErrorRate = 0.0001
		}
		if rng.IntN(5) == 0 {
			c.Service.StallEvery = time.Second
			c.Service.StallFor = time.Duration(5+rng.IntN(16)) * time.Millisecond
		}
		c.Arrival = pace.Processes[rng.IntN(len(pace.Processes))]
		if c.Arrival == pace.ProcessBursty {
			c.Burstiness = 0.25 + 0.75*rng.Float64()
		}
		c.Step = time.Duration(1+rng.IntN(10)) * time.Second
		capacity := c.Service.Capacity()
		if window := c.Step - min(time.Second, c.Step/5); capacity*window.Seconds() < MinRequestsAtCapacity {
			continue // no step of this length can judge this service
		}
		c.StartQPS = round3(capacity * (0.1 + 0.3*rng.Float64()))
		c.StepQPS = round3(capacity * (0.05 + 0.15*rng.Float64()))
		c.MaxQPS = round3(capacity * 1.6)
		svcP99 := ServiceQuantile(c.Service.Time, 0.99, c.Seed)
		if rng.IntN(3) == 0 {
			// Tight: a few times the p99 the service gives at a tenth of
			// its capacity, so that queueing, not capacity, breaks it.
			idle := LongP99(c.Service, c.Arrival, c.Burstiness, capacity/10, 20000, c.Seed)
			c.Tight = true
			c.P99 = roundMS(time.Duration(float64(idle) * (1.5 + 2.5*rng.Float64())))
		} else {
			c.P99 = roundMS(time.Second + 20*max(mean, svcP99))
		}
		out = append(out, c)
	}
	return out
}

func round3(v float64) float64 {
	if v <= 0 {
		return v
	}
	p := math.Pow(10, math.Floor(math.Log10(v))-2)
	return math.Round(v/p) * p
}

func roundMS(d time.Duration) time.Duration {
	return max(time.Millisecond, d.Round(time.Millisecond))
}

// ServiceQuantile is the q-quantile of a distribution's service times,
// from 20,000 draws.
func ServiceQuantile(d Dist, q float64, seed uint64) time.Duration {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]time.Duration, 20000)
	for i := range v {
		v[i] = d.Draw(rng)
	}
	slices.Sort(v)
	return v[int(q*float64(len(v)-1))]
}

// LatencyLimit is the highest rate at which the case's arrivals, held
// for long (50,000 arrivals), keep a p99 latency within the case's
// objective, found by bisection between 0 and the capacity; the
// capacity itself when the objective holds all the way.
func (c Case) LatencyLimit() float64 {
	capacity := c.Service.Capacity()
	ok := func(rate float64) bool {
		return LongP99(c.Service, c.Arrival, c.Burstiness, rate, 50000, c.Seed) <= c.P99
	}
	if ok(capacity * 0.999) {
		return capacity
	}
	lo, hi := 0.0, capacity
	for i := 0; i < 12; i++ {
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// LongP99 is the p99 latency of n arrivals at rate against svc, from a
// plain simulation of the same queue (no accounting): the long-run
// figure a short step estimates.
func LongP99(svc Service, arrival string, burstiness, rate float64, n int, seed uint64) time.Duration {
	arr := pace.New(arrival, rate, seed^0x5bd1e995, burstiness)
	m := NewStepper(svc, 0, seed)
	free := make(slotHeap, svc.Slots)
	lat := make([]time.Duration, n)
	for i := range lat {
		t := arr.Next()
		lat[i] = m.admit(free, t) - t
	}
	lat = lat[n/10:] // the queue's start from empty is not the long run
	slices.Sort(lat)
	return lat[int(0.99*float64(len(lat)-1))]
}

// Verdict is what the oracle found for one case.
type Verdict struct {
	Case Case
	// Capacity is k / E[S] (less stalls); Truth is the rate the
	// best-before should find: the capacity, or for a tight latency
	// objective the rate at which the long-run p99 meets it.
	Capacity, Truth float64
	BestBefore      float64
	LimitedBy       string
	Steps           int
	// Ratio is BestBefore ÷ Truth.
	Ratio float64
	// Alarms counts, per load (0.5 and 0.8 of the truth) and objective,
	// the fixed-rate steps that broke it; Judged counts the steps.
	Alarms map[float64]map[string]int
	Judged map[float64]int
}

// AlarmLoads are the shares of the truth at which the oracle counts
// false alarms.
var AlarmLoads = []float64{0.5, 0.8}

// AlarmSteps is how many fixed-rate steps the oracle runs at each load.
const AlarmSteps = 3

// Evaluate ramps the case and, with alarms, runs AlarmSteps fixed-rate
// steps at each of AlarmLoads.
func (c Case) Evaluate(ctx context.Context, alarms bool) (Verdict, error) {
	v := Verdict{Case: c, Capacity: c.Service.Capacity(), Alarms: map[float64]map[string]int{}, Judged: map[float64]int{}}
	v.Truth = v.Capacity
	if c.Tight {
		v.Truth = c.LatencyLimit()
	}
	r, err := c.Run(ctx)
	if err != nil {
		return v, err
	}
	v.BestBefore, v.LimitedBy, v.Steps = r.BestBefore.QPS, r.BestBefore.LimitedBy, len(r.Steps)
	v.Ratio = v.BestBefore / v.Truth
	for _, load := range AlarmLoads {
		if !alarms {
			break
		}
		rates := make([]float64, AlarmSteps)
		for i := range rates {
			rates[i] = round3(load * v.Truth)
		}
		s, err := c.Scenario(rates)
		if err != nil {
			return v, err
		}
		fr, err := sweep.Run(ctx, sweep.Config{Scenario: s, Plan: rates, Stepper: NewStepper(c.Service, c.Timeout(), c.Seed^uint64(load*1000))})
		if err != nil {
			return v, err
		}
		v.Alarms[load] = map[string]int{}
		for _, st := range fr.Steps {
			if st.Unmeasured() || st.Remeasured {
				continue // the verdict is the next step's, or none
			}
			v.Judged[load]++
			for _, f := range st.Failed {
				v.Alarms[load][f]++
			}
		}
	}
	return v, nil
}

// EvaluateAll evaluates the cases on workers goroutines, in order; every
// alarmEvery-th case (0: none) also counts false alarms.
func EvaluateAll(ctx context.Context, cases []Case, workers, alarmEvery int) ([]Verdict, error) {
	out := make([]Verdict, len(cases))
	errs := make([]error, len(cases))
	next := make(chan int)
	done := make(chan struct{})
	for w := 0; w < max(1, workers); w++ {
		go func() {
			for i := range next {
				out[i], errs[i] = cases[i].Evaluate(ctx, alarmEvery > 0 && i%alarmEvery == 0)
			}
			done <- struct{}{}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	for w := 0; w < max(1, workers); w++ {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			return out, fmt.Errorf("case %d (%s): %w", i, cases[i].Name(), err)
		}
	}
	return out, nil
}

// Summary is the oracle's table for one arrival process.
type Summary struct {
	Arrival string
	// Loose counts the cases whose objective only capacity can break;
	// Above those whose best-before exceeds the capacity, AboveMost the
	// largest such excess (ratio − 1), Within those in 85-100%.
	Loose, Above, Within int
	AboveMost            float64
	// Ratios are the loose cases' ratios, sorted.
	Ratios []float64
	// Tight counts the cases with a tight latency objective, TightWithin
	// those within ±15% of the rate at which the long-run p99 meets it,
	// TightAbove those above the capacity itself.
	Tight, TightWithin, TightAbove int
	// Alarms counts, per load and objective, the fixed-rate steps of
	// loose cases that broke it; Judged the steps.
	Alarms map[float64]map[string]int
	Judged map[float64]int
}

// Quantile is the q-quantile of the loose ratios.
func (s *Summary) Quantile(q float64) float64 {
	if len(s.Ratios) == 0 {
		return math.NaN()
	}
	return s.Ratios[int(q*float64(len(s.Ratios)-1))]
}

// AlarmRate is the share of judged steps at load that broke objective.
func (s *Summary) AlarmRate(load float64, objective string) float64 {
	if s.Judged[load] == 0 {
		return 0
	}
	return float64(s.Alarms[load][objective]) / float64(s.Judged[load])
}

// Summarize tabulates verdicts by arrival process, in pace.Processes order.
func Summarize(vs []Verdict) []*Summary {
	by := map[string]*Summary{}
	for _, v := range vs {
		s := by[v.Case.Arrival]
		if s == nil {
			s = &Summary{Arrival: v.Case.Arrival, Alarms: map[float64]map[string]int{}, Judged: map[float64]int{}}
			by[v.Case.Arrival] = s
		}
		if v.Case.Tight {
			s.Tight++
			if v.Ratio >= 0.85 && v.Ratio <= 1.15 {
				s.TightWithin++
			}
			if v.BestBefore > v.Capacity {
				s.TightAbove++
			}
			continue
		}
		s.Loose++
		s.Ratios = append(s.Ratios, v.Ratio)
		if v.Ratio > 1 {
			s.Above++
			s.AboveMost = max(s.AboveMost, v.Ratio-1)
		} else if v.Ratio >= 0.85 {
			s.Within++
		}
		for load, m := range v.Alarms {
			if s.Alarms[load] == nil {
				s.Alarms[load] = map[string]int{}
			}
			for k, n := range m {
				s.Alarms[load][k] += n
			}
			s.Judged[load] += v.Judged[load]
		}
	}
	var out []*Summary
	for _, a := range pace.Processes {
		if s := by[a]; s != nil {
			slices.Sort(s.Ratios)
			out = append(out, s)
		}
	}
	return out
}

// AlarmObjectives are the objectives the oracle's table counts alarms of.
var AlarmObjectives = []string{"throughput", "steady", "latency.p99", "error_rate"}

// Markdown writes the oracle's tables.
func Markdown(ss []*Summary) string {
	var b strings.Builder
	b.WriteString("| arrivals | loose cases | 85-100% of capacity | above capacity (most) | p5 / median ratio | tight cases | within ±15% of the latency limit |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, s := range ss {
		fmt.Fprintf(&b, "| %s | %d | %d (%.1f%%) | %d (+%.1f%%) | %.3f / %.3f | %d | %d (%.1f%%) |\n",
			s.Arrival, s.Loose, s.Within, pct(s.Within, s.Loose), s.Above, 100*s.AboveMost, s.Quantile(0.05), s.Quantile(0.5),
			s.Tight, s.TightWithin, pct(s.TightWithin, s.Tight))
	}
	b.WriteString("\nFalse alarms: steps at a fixed share of capacity (loose cases) that broke each objective.\n\n")
	b.WriteString("| arrivals | load | steps |")
	for _, o := range AlarmObjectives {
		b.WriteString(" " + o + " |")
	}
	b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(AlarmObjectives)) + "\n")
	for _, s := range ss {
		for _, load := range AlarmLoads {
			fmt.Fprintf(&b, "| %s | %.0f%% | %d |", s.Arrival, 100*load, s.Judged[load])
			for _, o := range AlarmObjectives {
				fmt.Fprintf(&b, " %d (%.1f%%) |", s.Alarms[load][o], 100*s.AlarmRate(load, o))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
