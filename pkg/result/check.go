package result

import (
	"fmt"
	"math"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// FieldError is a result document that breaks an invariant, located by
// the path of the field (steps[2].histogram).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Check verifies what the JSON Schema cannot say: counts that must agree
// with each other, and histograms that must decode (through the guarded
// stats.Decode) and hold every request measured. Read and Decode run it
// on every document they return.
func Check(r *Result) error { return check(r, "") }

func check(r *Result, at string) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: at + field, Msg: fmt.Sprintf(format, args...)}
	}
	for i := range r.Steps {
		if err := checkStep(&r.Steps[i], fmt.Sprintf("%ssteps[%d]", at, i)); err != nil {
			return err
		}
	}
	if bb := r.BestBefore; bb.Step < -1 || bb.Step >= len(r.Steps) {
		return bad("best_before.step", "%d is not a step of the %d in the file", bb.Step, len(r.Steps))
	}
	if nl := r.NodeLoss; nl != nil && (nl.Step < 0 || nl.Step >= len(r.Steps)) {
		return bad("node_loss.step", "%d is not a step of the %d in the file", nl.Step, len(r.Steps))
	}
	for name, sd := range r.Sides {
		if sd == nil {
			return bad("sides."+name, "is null")
		}
		if err := check(sd, at+"sides."+name+"."); err != nil {
			return err
		}
	}
	return nil
}

func checkStep(s *Step, at string) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: at + field, Msg: fmt.Sprintf(format, args...)}
	}
	if s.Successes > s.Requests {
		return bad(".successes", "%d successes of %d requests", s.Successes, s.Requests)
	}
	if s.Errors != s.Requests-s.Successes {
		return bad(".errors", "%d, but %d requests less %d successes is %d", s.Errors, s.Requests, s.Successes, s.Requests-s.Successes)
	}
	if s.Requests > 0 && math.Abs(s.ErrorRate-float64(s.Errors)/float64(s.Requests)) > 1e-9 {
		return bad(".error_rate", "%v, but %d errors of %d requests is %v", s.ErrorRate, s.Errors, s.Requests, float64(s.Errors)/float64(s.Requests))
	}
	var byClass int64
	for _, n := range s.ErrorsByClass {
		byClass += n
	}
	if byClass != s.Errors {
		return bad(".errors_by_class", "adds up to %d, but the step counts %d errors", byClass, s.Errors)
	}
	if len(s.ErrorKinds) > 0 {
		kinds := map[string]int64{}
		for _, k := range s.ErrorKinds {
			kinds[k.Class] += k.Count
		}
		for c, n := range kinds {
			if s.ErrorsByClass[c] != n {
				return bad(".error_kinds", "count %d %s errors, errors_by_class %d", n, c, s.ErrorsByClass[c])
			}
		}
		if len(kinds) != len(s.ErrorsByClass) {
			return bad(".error_kinds", "name %d classes, errors_by_class %d", len(kinds), len(s.ErrorsByClass))
		}
	}
	h, err := stats.Decode(s.Histogram)
	if err != nil {
		return bad(".histogram", "%v", err)
	}
	// Every request measured is in the histogram; dropped ones were
	// never sent and have no latency.
	if want := s.Requests - s.ErrorsByClass[ClassDropped]; h.TotalCount() != want {
		return bad(".histogram", "holds %d latencies, but the step measured %d requests (%d dropped): its percentiles would not be the step's", h.TotalCount(), s.Requests, s.ErrorsByClass[ClassDropped])
	}
	if s.ServiceHistogram != "" {
		sh, err := stats.Decode(s.ServiceHistogram)
		if err != nil {
			return bad(".service_histogram", "%v", err)
		}
		if sh.TotalCount() != h.TotalCount() {
			return bad(".service_histogram", "holds %d values, the latency histogram %d", sh.TotalCount(), h.TotalCount())
		}
	}
	if len(s.Endpoints) > 0 {
		var reqs, errs int64
		names := map[string]bool{}
		for j, e := range s.Endpoints {
			if names[e.Name] {
				return bad(fmt.Sprintf(".endpoints[%d].name", j), "%q twice", e.Name)
			}
			names[e.Name] = true
			if e.Errors > e.Requests {
				return bad(fmt.Sprintf(".endpoints[%d]", j), "%d errors of %d requests", e.Errors, e.Requests)
			}
			if e.Histogram != "" {
				eh, err := stats.Decode(e.Histogram)
				if err != nil {
					return bad(fmt.Sprintf(".endpoints[%d].histogram", j), "%v", err)
				}
				if eh.TotalCount() > e.Requests {
					return bad(fmt.Sprintf(".endpoints[%d].histogram", j), "holds %d latencies of %d requests", eh.TotalCount(), e.Requests)
				}
			}
			reqs += e.Requests
			errs += e.Errors
		}
		if reqs != s.Requests || errs != s.Errors {
			return bad(".endpoints", "hold %d requests and %d errors, the step %d and %d", reqs, errs, s.Requests, s.Errors)
		}
	}
	var ivReqs int64
	for j, iv := range s.Intervals {
		ih, err := stats.Decode(iv.Histogram)
		if err != nil {
			return bad(fmt.Sprintf(".intervals[%d].histogram", j), "%v", err)
		}
		if iv.Errors > iv.Requests || ih.TotalCount() > iv.Requests {
			return bad(fmt.Sprintf(".intervals[%d]", j), "%d errors and %d latencies of %d requests", iv.Errors, ih.TotalCount(), iv.Requests)
		}
		ivReqs += iv.Requests
	}
	if ivReqs > s.Requests {
		return bad(".intervals", "hold %d requests, more than the step's %d", ivReqs, s.Requests)
	}
	var trend int64
	for j, sl := range s.Trend {
		th, err := stats.Decode(sl.Histogram)
		if err != nil {
			return bad(fmt.Sprintf(".trend[%d].histogram", j), "%v", err)
		}
		if th.TotalCount() != sl.Requests {
			return bad(fmt.Sprintf(".trend[%d].histogram", j), "holds %d latencies, the slice counts %d", th.TotalCount(), sl.Requests)
		}
		trend += sl.Requests
	}
	if len(s.Trend) > 0 && trend != h.TotalCount() {
		return bad(".trend", "slices hold %d latencies, the step's histogram %d", trend, h.TotalCount())
	}
	return nil
}
