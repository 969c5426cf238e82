package scenario

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads "250ms", "5s", "1m30s", "60d". A bare number other
// than 0 is an error: 100 could mean milliseconds or seconds, and a
// latency objective read in the wrong one is off by a thousand.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 250ms or 5s", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "250ms".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration reads a Go duration or days ("60d"). A number needs its
// unit; only 0 may go without.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("%s has no unit: write %sms or %ss", s, s, s)
	}
	if strings.HasSuffix(s, "d") {
		f, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err == nil {
			return durationOf(s, f*24*float64(time.Hour))
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 250ms, 5s, 2m)", s)
	}
	return d, nil
}

// durationOf converts ns nanoseconds, refusing NaN, infinities and values
// a time.Duration cannot hold (they would wrap to nonsense).
func durationOf(s string, ns float64) (time.Duration, error) {
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return 0, fmt.Errorf("%q is not a duration in range (want e.g. 250ms, 5s, 60d; at most about 290 years)", s)
	}
	return time.Duration(ns), nil
}

// UnmarshalYAML reads "0.1%" or a ratio below 1 such as 0.001.
func (r *Ratio) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a share such as 0.1%% or 0.001", n.Line)
	}
	v, err := ParseRatio(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*r = Ratio(v)
	return nil
}

// MarshalYAML writes the ratio as a percentage.
func (r Ratio) MarshalYAML() (any, error) {
	return strconv.FormatFloat(float64(r)*100, 'g', -1, 64) + "%", nil
}

// ParseRatio reads a percentage ("0.1%" = 0.001) or a ratio in [0, 1).
// A bare 1 or more is refused, saying how it would have been read: 1 is
// as likely meant as 1% as 100%.
func ParseRatio(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a share (want e.g. 0.1%% or 0.001)", s)
	}
	if pct {
		return f / 100, nil
	}
	if f >= 1 {
		return 0, fmt.Errorf("%s read as a ratio is %s%%: write %s%% for that share, or a ratio below 1 (%s%% is %g)", s, strconv.FormatFloat(f*100, 'g', -1, 64), s, s, f/100)
	}
	return f, nil
}

// StatusCheck is the status a check expects of every response: one HTTP
// status code, or, written "recorded", the class of the status each
// request got when it was recorded: a success (1xx-3xx; a 304 replayed as
// a 200 is one), a client error (4xx) or a server error (5xx).
type StatusCheck struct {
	Code     int
	Recorded bool
}

// UnmarshalYAML reads 200 or "recorded".
func (s *StatusCheck) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value == "recorded" {
			*s = StatusCheck{Recorded: true}
			return nil
		}
		if c, err := strconv.Atoi(n.Value); err == nil {
			*s = StatusCheck{Code: c}
			return nil
		}
	}
	return fmt.Errorf("line %d: want an HTTP status such as 200, or recorded (the status class each traffic line was recorded with)", n.Line)
}

// MarshalYAML writes the code, or "recorded".
func (s StatusCheck) MarshalYAML() (any, error) {
	if s.Recorded {
		return "recorded", nil
	}
	return s.Code, nil
}
