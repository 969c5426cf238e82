package scenario

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// SLO holds the objectives a step must meet, read through the objective
// catalogue (result.Catalogue): each entry's SLO path is its key here
// (latency.p99, error_rate, target_cpu, gc_pause_p99, throughput,
// steady), written in its unit's notation: a duration for milliseconds
// (100ms), a share (0.1%) for a share, a share of one core (80%) for CPU.
// An objective added to the catalogue is a key here with nothing more.
type SLO struct {
	// Bounds maps a catalogue key to the bound set, in the objective's
	// unit (ms, a share, percent of one core).
	Bounds map[string]float64
	// problems are keys and values the file held that are not
	// objectives, reported by validate with the rest.
	problems []Problem
}

var sloType = reflect.TypeOf(SLO{})

// Problem is one thing wrong with a section of a scenario, at a dotted
// field; the scenario locates it by file and line.
type Problem struct {
	Field string
	Msg   string
}

func problemf(field, format string, args ...any) Problem {
	return Problem{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// sloKeysAt lists the keys slo: takes below prefix ("" or "latency").
func sloKeysAt(prefix string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, ob := range result.Catalogue {
		rest := ob.SLO
		if prefix != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(ob.SLO, prefix+"."); !ok {
				continue
			}
		}
		k, _, _ := strings.Cut(rest, ".")
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// ParseBound reads a bound written in the objective's unit notation and
// returns it in the objective's unit.
func ParseBound(ob *result.Objective, s string) (float64, error) {
	switch ob.Unit {
	case result.UnitMS:
		d, err := ParseDuration(s)
		return float64(d) / float64(time.Millisecond), err
	case result.UnitPercent:
		r, err := ParseRatio(s)
		return r * 100, err
	}
	return ParseRatio(s)
}

// FormatBound writes a bound as ParseBound reads it.
func FormatBound(ob *result.Objective, v float64) string {
	switch ob.Unit {
	case result.UnitMS:
		return time.Duration(v * float64(time.Millisecond)).String()
	case result.UnitPercent:
		return strconv.FormatFloat(v, 'g', -1, 64) + "%"
	}
	return strconv.FormatFloat(v*100, 'g', -1, 64) + "%"
}

// UnmarshalYAML reads slo: through the catalogue. A key or value that is
// not an objective is kept as a problem for validation, which reports
// every one at once with its line.
func (s *SLO) UnmarshalYAML(n *yaml.Node) error {
	*s = SLO{Bounds: map[string]float64{}}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: slo is a mapping of objectives (%s)", n.Line, strings.Join(sloKeysAt(""), ", "))
	}
	s.read(n, "")
	return nil
}

func (s *SLO) read(n *yaml.Node, prefix string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		field := "slo." + path
		if ob, ok := result.LookupSLO(path); ok {
			if v.Kind != yaml.ScalarNode {
				s.problems = append(s.problems, problemf(field, "want a bound such as %s", FormatBound(ob, exampleBound(ob))))
				continue
			}
			b, err := ParseBound(ob, v.Value)
			if err != nil {
				s.problems = append(s.problems, problemf(field, "%v", err))
				continue
			}
			s.Bounds[ob.Key] = b
			continue
		}
		if v.Kind == yaml.MappingNode && len(sloKeysAt(path)) > 0 {
			s.read(v, path)
			continue
		}
		s.problems = append(s.problems, problemf(field, "%s", unknownSLO(prefix, k)))
	}
}

// unknownSLO says what slo: takes instead of k.
func unknownSLO(prefix, k string) string {
	keys := sloKeysAt(prefix)
	where := "slo"
	if prefix != "" {
		where += "." + prefix
	}
	if prefix == "latency" {
		msg := fmt.Sprintf("unknown percentile %q: use %s", k, strings.Join(result.LatencyKeys(), ", "))
		if best := closest(k, keys); best != "" {
			msg += "; did you mean " + where + "." + best + "?"
		}
		return msg
	}
	msg := "unknown key " + where + "." + k
	if best := closest(k, keys); best != "" {
		return msg + "; did you mean " + where + "." + best + "?"
	}
	return msg + " (" + where + " takes: " + strings.Join(keys, ", ") + ")"
}

// exampleBound is a bound to show in a message.
func exampleBound(ob *result.Objective) float64 {
	switch ob.Unit {
	case result.UnitMS:
		return 100
	case result.UnitPercent:
		return 80
	}
	return 0.001
}

// MarshalYAML writes slo: as a file holds it: the latency group first,
// then the others in catalogue order.
func (s SLO) MarshalYAML() (any, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	groups := map[string]*yaml.Node{}
	for _, ob := range result.Catalogue {
		v, ok := s.Bounds[ob.Key]
		if !ok {
			continue
		}
		parent := root
		name := ob.SLO
		if g, rest, nested := strings.Cut(ob.SLO, "."); nested {
			if groups[g] == nil {
				groups[g] = &yaml.Node{Kind: yaml.MappingNode}
				root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: g}, groups[g])
			}
			parent, name = groups[g], rest
		}
		parent.Content = append(parent.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: name},
			&yaml.Node{Kind: yaml.ScalarNode, Value: FormatBound(&ob, v)})
	}
	return root, nil
}

// validate checks each bound against its objective: above zero where it
// must be, a share between 0% and 100%.
func (s SLO) validate() problems {
	ps := append(problems(nil), s.problems...)
	if _, ok := s.Bounds["goodput"]; ok && !s.Good().Set() {
		ps = append(ps, problemf("slo.goodput.share", "says what share of requests must be good, and needs what a good request is: set goodput.ttft, goodput.tpot or goodput.latency"))
	}
	for _, ob := range result.Catalogue {
		v, ok := s.Bounds[ob.Key]
		if !ok {
			continue
		}
		field := "slo." + ob.SLO
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			ps = append(ps, problemf(field, "must be a number"))
		case ob.Positive && v <= 0:
			ps = append(ps, problemf(field, "must be positive"))
		case ob.Unit == result.UnitShare && (v < 0 || v > 1):
			ps = append(ps, problemf(field, "must be between 0%% and 100%%, got %v%%", v*100))
		case ob.Unit == result.UnitPercent && (v < 0 || v > 100):
			ps = append(ps, problemf(field, "must be between 0%% and 100%%, got %v%%", v))
		case v < 0:
			ps = append(ps, problemf(field, "must not be negative"))
		}
	}
	return ps
}

// Good is the per-request bounds goodput counts against (goodput.ttft,
// goodput.tpot, goodput.latency), zero for those not set.
func (s SLO) Good() attack.RequestObjectives {
	d := func(key string) time.Duration { return time.Duration(s.Bounds[key] * float64(time.Millisecond)) }
	return attack.RequestObjectives{TTFT: d("goodput.ttft"), TPOT: d("goodput.tpot"), Latency: d("goodput.latency")}
}

// InForce is the objectives a step is judged against: the bounds set,
// and each catalogue default the scenario leaves unset; a bound of 0 on
// an objective with a default turns it off.
func (s SLO) InForce() result.Objectives {
	o := result.Objectives{}
	for _, ob := range result.Catalogue {
		v, set := s.Bounds[ob.Key]
		if !set {
			v = ob.Default
		}
		if !set && ob.Default == 0 || ob.Default > 0 && v <= 0 {
			continue
		}
		o[ob.Key] = v
	}
	return o
}
