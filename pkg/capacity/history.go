package capacity

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// PeakSample is one observation of the daily peak load.
type PeakSample struct {
	Date    time.Time
	PeakQPS float64
}

// HistoryError names the place in a history file that is wrong.
type HistoryError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *HistoryError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// ReadHistory decodes a CSV history of peak load: a header line naming the
// columns date and peak_qps (or peak_tokens_per_s, for a plan in output
// tokens; in any order; other columns are ignored), then
// one row per observation. Dates are YYYY-MM-DD or RFC 3339. name is used
// in error messages only; ReadHistory does not open files.
func ReadHistory(r io.Reader, name string) ([]PeakSample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &HistoryError{File: name, Line: 1, Msg: "empty file, want a header line \"date,peak_qps\""}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	dateCol, qpsCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "date":
			dateCol = i
		case "peak_qps", "peak_tokens_per_s":
			qpsCol = i
		}
	}
	line, _ := cr.FieldPos(0)
	if dateCol < 0 || qpsCol < 0 {
		return nil, &HistoryError{File: name, Line: line, Msg: fmt.Sprintf("header %q must name the columns date and peak_qps", strings.Join(header, ","))}
	}
	var out []PeakSample
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) <= max(dateCol, qpsCol) {
			return nil, &HistoryError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, want at least %d", len(rec), max(dateCol, qpsCol)+1)}
		}
		ds := strings.TrimSpace(rec[dateCol])
		d, err := parseDate(ds)
		if err != nil {
			return nil, &HistoryError{File: name, Line: line, Field: "date", Msg: fmt.Sprintf("%q is not a date (want YYYY-MM-DD)", ds)}
		}
		if prev, dup := seen[d.Format(time.RFC3339)]; dup {
			return nil, &HistoryError{File: name, Line: line, Field: "date", Msg: fmt.Sprintf("%s repeats line %d", ds, prev)}
		}
		seen[d.Format(time.RFC3339)] = line
		qs := strings.TrimSpace(rec[qpsCol])
		q, err := strconv.ParseFloat(qs, 64)
		if err != nil || math.IsNaN(q) || math.IsInf(q, 0) {
			return nil, &HistoryError{File: name, Line: line, Field: "peak_qps", Msg: fmt.Sprintf("%q is not a number", qs)}
		}
		if q <= 0 {
			return nil, &HistoryError{File: name, Line: line, Field: "peak_qps", Msg: fmt.Sprintf("%s: a peak load must be positive", qs)}
		}
		out = append(out, PeakSample{Date: d, PeakQPS: q})
	}
	if len(out) == 0 {
		return nil, &HistoryError{File: name, Line: line, Msg: "no rows after the header"}
	}
	return out, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &HistoryError{File: name, Line: pe.Line, Msg: pe.Err.Error()}
	}
	return fmt.Errorf("%s: %w", name, err)
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

// ErrInsufficientHistory is returned by FitGrowth for too few samples.
var ErrInsufficientHistory = errors.New("capacity: need at least 3 samples on distinct dates to fit growth")

// GrowthFit is exponential growth fitted to a history of peak load by
// ordinary least squares on log(peak) against time:
// log(peak) = Intercept + Growth.RatePerDay × (days since First).
type GrowthFit struct {
	Growth Growth `json:"-"`
	// Range is the Level confidence interval of the rate: the estimate
	// ± t(Level, n−2) × StdErr. It reflects the scatter of the history
	// around the fitted line only; it assumes independent errors and
	// ignores the uncertainty of the intercept.
	Range     GrowthRange `json:"-"`
	StdErr    float64     `json:"rate_std_err"`
	Intercept float64     `json:"intercept"`
	R2        float64     `json:"r2"`
	Samples   int         `json:"samples"`
	First     time.Time   `json:"first"`
	Last      time.Time   `json:"last"`
}

// PeakAt is the fitted peak load at t.
func (f *GrowthFit) PeakAt(t time.Time) float64 {
	return math.Exp(f.Intercept + f.Growth.RatePerDay*t.Sub(f.First).Hours()/24)
}

// FitGrowth fits exponential growth to samples and gives a level
// (e.g. 0.9) confidence interval for the rate.
func FitGrowth(samples []PeakSample, level float64) (*GrowthFit, error) {
	if !(level > 0 && level < 1) {
		return nil, fmt.Errorf("capacity: confidence level must be in (0, 1), got %g", level)
	}
	s := append([]PeakSample(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i].Date.Before(s[j].Date) })
	distinct := 0
	for i := range s {
		if !(s[i].PeakQPS > 0) {
			return nil, fmt.Errorf("capacity: peak load must be positive, got %g on %s", s[i].PeakQPS, date(s[i].Date))
		}
		if i == 0 || !s[i].Date.Equal(s[i-1].Date) {
			distinct++
		}
	}
	if distinct < 3 {
		return nil, ErrInsufficientHistory
	}
	n := float64(len(s))
	first := s[0].Date
	var mx, my float64
	xs, ys := make([]float64, len(s)), make([]float64, len(s))
	for i, v := range s {
		xs[i] = v.Date.Sub(first).Hours() / 24
		ys[i] = math.Log(v.PeakQPS)
		mx += xs[i]
		my += ys[i]
	}
	mx /= n
	my /= n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	b := sxy / sxx
	a := my - b*mx
	var ssr float64
	for i := range xs {
		r := ys[i] - (a + b*xs[i])
		ssr += r * r
	}
	df := n - 2
	se := math.Sqrt(ssr / df / sxx)
	t := stats.StudentTQuantile(0.5+level/2, df)
	r2 := 1.0
	if syy > 0 {
		r2 = 1 - ssr/syy
	}
	return &GrowthFit{
		Growth:    Growth{RatePerDay: b},
		Range:     GrowthRange{Low: Growth{RatePerDay: b - t*se}, High: Growth{RatePerDay: b + t*se}, Level: level},
		StdErr:    se,
		Intercept: a,
		R2:        r2,
		Samples:   len(s),
		First:     first,
		Last:      s[len(s)-1].Date,
	}, nil
}
