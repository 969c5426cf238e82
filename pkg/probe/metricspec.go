package probe

import (
	"fmt"
	"strings"
)

// metricSpec is one entry of monitor.metrics: a selector whose type decides
// what is reported, or a ratio of sums of selectors.
type metricSpec struct {
	key string
	sel Selector   // plain metric
	num *Selector  // ratio numerator
	den []Selector // ratio denominator terms, summed
}

// ratioPrefix introduces a ratio: ratio:A/B or ratio:A/(A+B+...).
const ratioPrefix = "ratio:"

// parseMetricSpec parses a monitor.metrics entry:
//
//	name                         a counter → rate per second; a gauge → last value;
//	name{label="v",...}          a histogram → .p99, .mean and .rate; a summary → .p99 and .rate
//	ratio:A/B                    ΔA / ΔB over the step
//	ratio:A/(A+B)                ΔA / (ΔA + ΔB), e.g. a cache hit ratio
//
// In a ratio, a counter contributes its growth over the step and a gauge
// its last value.
func parseMetricSpec(s string) (metricSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return metricSpec{}, fmt.Errorf("empty metric name")
	}
	if !strings.HasPrefix(s, ratioPrefix) {
		sel, err := ParseSelector(s)
		if err != nil {
			return metricSpec{}, err
		}
		return metricSpec{key: s, sel: sel}, nil
	}
	expr := strings.TrimSpace(strings.TrimPrefix(s, ratioPrefix))
	i := indexOutside(expr, '/')
	if i < 0 {
		return metricSpec{}, fmt.Errorf("%q: a ratio is ratio:A/B or ratio:A/(A+B)", s)
	}
	num, err := ParseSelector(expr[:i])
	if err != nil {
		return metricSpec{}, fmt.Errorf("%q: numerator: %w", s, err)
	}
	den := strings.TrimSpace(expr[i+1:])
	if strings.HasPrefix(den, "(") {
		if !strings.HasSuffix(den, ")") {
			return metricSpec{}, fmt.Errorf("%q: missing closing )", s)
		}
		den = den[1 : len(den)-1]
	}
	spec := metricSpec{key: s, num: &num}
	for _, term := range splitOutside(den, '+') {
		t, err := ParseSelector(term)
		if err != nil {
			return metricSpec{}, fmt.Errorf("%q: denominator: %w", s, err)
		}
		spec.den = append(spec.den, t)
	}
	return spec, nil
}

// ValidateMetrics checks monitor.metrics entries, so a scenario can reject
// a malformed one before a run starts. The error names the entry's index.
func ValidateMetrics(names []string) error {
	for i, n := range names {
		if _, err := parseMetricSpec(n); err != nil {
			return fmt.Errorf("monitor.metrics[%d]: %w", i, err)
		}
	}
	return nil
}

// indexOutside finds c outside {...} and "...".
func indexOutside(s string, c byte) int {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case quoted:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				quoted = false
			}
		case ch == '"':
			quoted = true
		case ch == '{':
			depth++
		case ch == '}':
			depth--
		case ch == c && depth == 0:
			return i
		}
	}
	return -1
}

func splitOutside(s string, c byte) []string {
	var parts []string
	for {
		i := indexOutside(s, c)
		if i < 0 {
			return append(parts, s)
		}
		parts = append(parts, s[:i])
		s = s[i+1:]
	}
}
