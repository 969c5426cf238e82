package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is the medians over the repetitions of one tool at one rate.
type Summary struct {
	Tool                     string
	Offered                  float64
	N, Failed                int
	CPU, CPUMin, CPUMax      float64 // µs per completed request
	User, Sys                float64 // µs per completed request
	Achieved                 float64
	LagP50, LagP99, LagP99Hi float64 // ms; NaN for vegeta
	LatP50, LatP99           float64 // ms
	Load1                    float64
	Steal                    float64 // share of the machine's CPU time, median
	// VolSwitches and InvolSwitches are context switches per completed
	// request, medians.
	VolSwitches, InvolSwitches float64
}

// StealWarn is the steal time above which a report warns that its
// figures describe a noisier machine than the one named.
const StealWarn = 0.02

// Median of the non-NaN values; NaN when there are none.
func Median(xs []float64) float64 {
	v := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Summarize groups runs by rate and tool, in the order they first appear.
func Summarize(runs []Run) []Summary {
	type key struct {
		tool string
		rate float64
	}
	var order []key
	groups := map[key][]Run{}
	for _, r := range runs {
		k := key{r.Tool, r.Offered}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if a.rate != b.rate {
			return int(math.Copysign(1, a.rate-b.rate))
		}
		return strings.Compare(a.tool, b.tool)
	})
	var out []Summary
	for _, k := range order {
		s := Summary{Tool: k.tool, Offered: k.rate}
		var cpu, user, sys, ach, l50, l99, t50, t99, load, steal, vol, invol []float64
		for _, r := range groups[k] {
			if r.Err != "" || r.Completed == 0 {
				s.Failed++
				continue
			}
			s.N++
			n := float64(r.Completed)
			cpu = append(cpu, r.CPUPerRequestUS())
			user = append(user, float64(r.User)/float64(time.Microsecond)/n)
			sys = append(sys, float64(r.Sys)/float64(time.Microsecond)/n)
			ach = append(ach, r.AchievedQPS)
			l50, l99 = append(l50, r.LagP50MS), append(l99, r.LagP99MS)
			t50, t99 = append(t50, r.LatP50MS), append(t99, r.LatP99MS)
			load = append(load, r.Load1)
			steal = append(steal, r.Steal)
			v, iv := r.SwitchesPerRequest()
			vol, invol = append(vol, v), append(invol, iv)
		}
		s.VolSwitches, s.InvolSwitches = Median(vol), Median(invol)
		s.CPU, s.User, s.Sys, s.Achieved, s.Steal = Median(cpu), Median(user), Median(sys), Median(ach), Median(steal)
		s.LagP50, s.LagP99, s.LatP50, s.LatP99, s.Load1 = Median(l50), Median(l99), Median(t50), Median(t99), Median(load)
		s.CPUMin, s.CPUMax, s.LagP99Hi = math.NaN(), math.NaN(), math.NaN()
		if len(cpu) > 0 {
			s.CPUMin, s.CPUMax = slices.Min(cpu), slices.Max(cpu)
		}
		if l := slices.DeleteFunc(l99, math.IsNaN); len(l) > 0 {
			s.LagP99Hi = slices.Max(l)
		}
		out = append(out, s)
	}
	return out
}

// Ratio is bestbefore's median CPU per request over vegeta's at rate.
func Ratio(sums []Summary, rate float64) float64 {
	return RatioOf(sums, rate, BestBefore, Vegeta)
}

// RatioOf is tool a's median CPU per request over tool b's at rate.
func RatioOf(sums []Summary, rate float64, a, b string) float64 {
	var x, y = math.NaN(), math.NaN()
	for _, s := range sums {
		if s.Offered != rate {
			continue
		}
		switch s.Tool {
		case a:
			x = s.CPU
		case b:
			y = s.CPU
		}
	}
	return x / y
}

// KeptRatio is bestbefore's median CPU per request over vegeta's at rate,
// each over only the runs that completed at least minAchieved of the
// rate: a generator that fell behind spends its CPU on reconnecting and
// timing out, not on sending. kept and total count vegeta's runs.
func KeptRatio(runs []Run, rate, minAchieved float64) (ratio float64, kept, total int) {
	var bb, vg []float64
	for _, r := range runs {
		if r.Offered != rate || r.Err != "" || r.Completed == 0 {
			continue
		}
		ok := r.AchievedQPS >= minAchieved*r.Offered
		switch r.Tool {
		case BestBefore:
			if ok {
				bb = append(bb, r.CPUPerRequestUS())
			}
		case Vegeta:
			total++
			if ok {
				kept++
				vg = append(vg, r.CPUPerRequestUS())
			}
		}
	}
	return Median(bb) / Median(vg), kept, total
}

// MaxSustained is the highest offered rate a tool sustained.
func MaxSustained(runs []Run, tool string, maxLagMS, minAchieved float64) float64 {
	best := 0.0
	for _, r := range runs {
		if r.Tool == tool && r.Sustained(maxLagMS, minAchieved) {
			best = max(best, r.Offered)
		}
	}
	return best
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// Markdown renders the report.
func (rep *Report) Markdown() string {
	var b strings.Builder
	c := rep.Config
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Generator benchmark: bestbefore and vegeta, %s\n\n", rep.Started.Format("2006-01-02 15:04 MST"))
	if c.Label != "" {
		p("Measured: %s. ", c.Label)
	}
	p("Machine: %s, %d cores, Linux %s, %s. vegeta: %s.\n", rep.Env.CPUModel, rep.Env.CPUs, rep.Env.Kernel, rep.Env.Go, rep.Env.VegetaVersion)
	p("Generators pinned to core %s, the fixed-response loopback server (`bench/server`) to core %s. ", c.GenCPU, c.ServerCPU)
	p("Load average (1, 5, 15 min) at the start: %s, at the end: %s; took %s. ", rep.LoadStart, rep.LoadEnd, rep.Finished.Sub(rep.Started).Round(time.Second))
	p("Steal time (CPU the hypervisor gave to other guests): %s%% of the machine's CPU time.", num(100*rep.Steal, 1))
	if rep.Steal > StealWarn {
		p(" **Above %s%%: the generators ran on a slower, noisier machine than the one described; compare tools within this report only, and measure again on a quiet machine before quoting the figures.**", num(100*StealWarn, 0))
	}
	p("\n\n")
	p("CPU is each generator process's user + system time (getrusage, nothing subtracted: startup, encoding of results and reports included) ")
	p("divided by the requests it completed. Medians of %d run(s) of %s per rate and tool, alternating which tool goes first; range in brackets. ", c.Reps, c.Duration)
	p("Send lag is bestbefore's (actual minus intended send time); vegeta does not measure it. ")
	p("Latency: bestbefore's from the intended send time, vegeta's from the actual send (vegeta cannot see its own lateness).\n\n")

	sums := Summarize(rep.Fixed)
	p("## Fixed rates\n\n")
	p("| offered QPS | tool | CPU µs/request | user µs | sys µs | context switches/request (voluntary + involuntary) | achieved QPS | send lag p50 / p99 ms | latency p50 / p99 ms | bestbefore / vegeta CPU |\n")
	p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range sums {
		ratio := ""
		if s.Tool == BestBefore {
			ratio = num(Ratio(sums, s.Offered), 2)
			if kr, kept, total := KeptRatio(rep.Fixed, s.Offered, c.MinAchieved); kept < total {
				ratio += " (" + num(kr, 2) + " without vegeta's runs that fell behind)"
			}
		}
		p("%s", s.row(ratio))
	}
	p("\nGoals: CPU per request at most 0.6× vegeta's; send lag p99 under %s ms at 5,000 QPS.\n\n", num(c.MaxLagMS, 0))
	for _, s := range sums {
		if s.Tool != BestBefore {
			continue
		}
		r, kept, total := KeptRatio(rep.Fixed, s.Offered, c.MinAchieved)
		verdict, lag := "met", "met"
		switch {
		case math.IsNaN(r):
			verdict = "not measured"
		case r > 0.6:
			verdict = "NOT met"
		}
		switch {
		case math.IsNaN(s.LagP99):
			lag = "not measured"
		case s.LagP99 >= c.MaxLagMS:
			lag = "NOT met"
		}
		p("- %.0f QPS: CPU ratio %s over the runs that kept the rate (vegeta: %d of %d; 0.6× goal %s); send lag p99 median %s ms, worst run %s ms (%s ms goal %s).",
			s.Offered, num(r, 2), kept, total, verdict, num(s.LagP99, 3), num(s.LagP99Hi, 3), num(c.MaxLagMS, 0), lag)
		for _, o := range sums {
			if o.Offered == s.Offered && !(o.Achieved >= c.MinAchieved*o.Offered) {
				p(" %s completed %s QPS of %.0f (median): it fell behind, and its CPU per request is that of a generator in trouble, not comparable.",
					o.Tool, num(o.Achieved, 0), o.Offered)
			}
		}
		for _, o := range sums {
			if o.Offered == s.Offered && o.Steal > StealWarn {
				p(" During %s's runs the hypervisor took %s%% of the machine's CPU time (steal).", o.Tool, num(100*o.Steal, 1))
			}
		}
		p("\n")
	}

	if len(rep.Max) > 0 {
		p("\n## Maximum sustained rate\n\n")
		p("One run of %s per rate and tool, rates tried upwards until a tool failed twice in a row. ", c.MaxDuration)
		p("Sustained: at least %.0f%% of the offered rate completed, no error and, for bestbefore, send lag p99 under %s ms ", c.MinAchieved*100, num(c.MaxLagMS, 0))
		p("(vegeta's lag cannot be checked).\n\n")
		p("| offered QPS | tool | achieved QPS | CPU µs/request | send lag p99 ms | sustained |\n| ---: | --- | ---: | ---: | ---: | --- |\n")
		for _, r := range rep.Max {
			ok := "yes"
			if !r.Sustained(c.MaxLagMS, c.MinAchieved) {
				ok = "no"
			}
			if r.Err != "" {
				ok = "error: " + r.Err
			}
			p("| %.0f | %s | %s | %s | %s | %s |\n", r.Offered, r.Tool, num(r.AchievedQPS, 0), num(r.CPUPerRequestUS(), 1), num(r.LagP99MS, 3), ok)
		}
		p("\nHighest sustained (of the rates tried): bestbefore %s, vegeta %s.\n",
			sustainedText(rep.Max, BestBefore, c), sustainedText(rep.Max, Vegeta, c))
	}

	if len(rep.GRPC) > 0 {
		gs := Summarize(rep.GRPC)
		p("\n## gRPC\n\n")
		p("bestbefore and ghz (%s) call the Open Inference Protocol's `ModelInfer` on the same pinned gRPC server (`bench/server -grpc`, one fixed answer, reflection on), ", rep.Env.GhzVersion)
		p("each pinned to core %s, at fixed rates: ghz with `--rps`, 50 workers, one connection and `--cpus 1`. ", c.GenCPU)
		p("CPU per call is taken as above (the process's user + system time over the calls that completed OK). ")
		p("Latency: bestbefore's from the intended send, ghz's from the actual call. Medians of %d run(s) of %s.\n\n", c.Reps, c.Duration)
		p("| calls/s | tool | CPU µs/call | user µs | sys µs | context switches/call | achieved | send lag p50 / p99 ms | latency p50 / p99 ms | bestbefore / ghz CPU |\n")
		p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range gs {
			ratio := ""
			if s.Tool == BestBeforeGRPC {
				ratio = num(RatioOf(gs, s.Offered, BestBeforeGRPC, Ghz), 2)
			}
			p("%s", s.row(ratio))
		}
		p("\nGoals: CPU per call at most 1.0× ghz's; send lag p99 under 2 ms at 5,000 calls/s.\n\n")
		for _, s := range gs {
			if s.Tool != BestBeforeGRPC {
				continue
			}
			r := RatioOf(gs, s.Offered, BestBeforeGRPC, Ghz)
			verdict := "met"
			if !(r <= 1) {
				verdict = "NOT met"
			}
			p("- %.0f calls/s: CPU ratio %s (1.0× goal %s); send lag p99 median %s ms, worst run %s ms.\n", s.Offered, num(r, 2), verdict, num(s.LagP99, 3), num(s.LagP99Hi, 3))
		}
	}

	if len(rep.Idle) > 0 {
		p("\n## Fixed cost\n\nStarting, running 1 s at 10 QPS and exiting: ")
		for i, r := range rep.Idle {
			if i > 0 {
				p("; ")
			}
			p("%s %s ms CPU", r.Tool, num(float64(r.User+r.Sys)/float64(time.Millisecond), 0))
		}
		p(". Included in every figure above; spread over the requests of a %s run at 1,000 QPS it is about %s µs per request for bestbefore.\n",
			c.Duration, num(float64(rep.Idle[0].User+rep.Idle[0].Sys)/float64(time.Microsecond)/(1000*c.Duration.Seconds()), 1))
	}

	p("\n## Every run\n\nServer CPU is the share of its core the server used during the run; near 100%% the server set the pace.\n\n")
	p("| offered QPS | tool | rep | load 1 min | steal | CPU s (user + sys) | completed / sent | achieved QPS | send lag p50 / p99 ms | latency p99 ms | server CPU | note |\n")
	p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range slices.Concat(rep.Idle, rep.Fixed, rep.Max, rep.GRPC) {
		note := r.Err
		if r.Steps > 1 {
			note = fmt.Sprintf("step measured %d times (generator CPU saturated)", r.Steps)
		}
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			if r.Errors[k] > 0 {
				note += fmt.Sprintf(" %s: %d", k, r.Errors[k])
			}
		}
		p("| %.0f | %s | %d | %s | %s%% | %.2f + %.2f | %d / %d | %s | %s / %s | %s | %s%% | %s |\n", r.Offered, r.Tool, r.Rep, num(r.Load1, 2),
			num(100*r.Steal, 1), r.User.Seconds(), r.Sys.Seconds(), r.Completed, r.Sent, num(r.AchievedQPS, 0), num(r.LagP50MS, 3), num(r.LagP99MS, 3), num(r.LatP99MS, 3),
			num(100*r.ServerCPU, 0), note)
	}
	return b.String()
}

// row is the summary's line of a fixed-rate table: CPU with its range,
// switches, achieved rate, send lag, latency and the CPU ratio given.
func (s Summary) row(ratio string) string {
	cpu := num(s.CPU, 1)
	if s.N > 1 {
		cpu += " [" + num(s.CPUMin, 1) + "–" + num(s.CPUMax, 1) + "]"
	}
	if s.Failed > 0 {
		cpu += fmt.Sprintf(" (%d failed)", s.Failed)
	}
	return fmt.Sprintf("| %.0f | %s | %s | %s | %s | %s + %s | %s | %s / %s | %s / %s | %s |\n", s.Offered, s.Tool, cpu, num(s.User, 1), num(s.Sys, 1),
		num(s.VolSwitches, 2), num(s.InvolSwitches, 2), num(s.Achieved, 0), num(s.LagP50, 3), num(s.LagP99, 3), num(s.LatP50, 3), num(s.LatP99, 3), ratio)
}

func sustainedText(runs []Run, tool string, c Config) string {
	v := MaxSustained(runs, tool, c.MaxLagMS, c.MinAchieved)
	if v == 0 {
		return "none"
	}
	s := fmt.Sprintf("%.0f QPS", v)
	if v == c.MaxRates[len(c.MaxRates)-1] {
		s += " or more"
	}
	return s
}
