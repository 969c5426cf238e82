package probe

import (
	"github.com/bestbefore/bestbefore/pkg/h1"

	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxScrapeBytes bounds how much of a /metrics response is read.
const maxScrapeBytes = 16 << 20

// Scraper reads one target's Prometheus text-format /metrics.
type Scraper struct {
	url    string
	client *http.Client
}

// NewScraper returns a scraper of url using client (nil: a client with a
// 5 s timeout). Requests are bounded by the context given to Sample.
func NewScraper(url string, client *http.Client) *Scraper {
	if client == nil {
		client = h1.Guard{}.Client(5 * time.Second)
	}
	return &Scraper{url: url, client: client}
}

// URL is the address scraped.
func (s *Scraper) URL() string { return s.url }

// Sample GETs the metrics and parses them. A transport failure, a status
// other than 200 or a body that is not the Prometheus text format is an
// error (which the Monitor turns into a warning).
func (s *Scraper) Sample(ctx context.Context) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return Sample{}, fmt.Errorf("metrics %s: %w", s.url, err)
	}
	// Ask for the text format; a server that only speaks protobuf or
	// OpenMetrics still usually honours it.
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := s.client.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("metrics %s: %w", s.url, err)
	}
	now := time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Sample{}, fmt.Errorf("metrics %s: HTTP status %s", s.url, resp.Status)
	}
	fams, err := ParseMetrics(io.LimitReader(resp.Body, maxScrapeBytes))
	if err != nil {
		return Sample{}, fmt.Errorf("metrics %s: %w", s.url, err)
	}
	return Sample{Time: now, Scrape: &Scrape{URL: s.url, Families: fams}}, nil
}

// ParseMetrics parses the Prometheus text exposition format. An empty body
// parses to no families; anything else that is not the format is an error.
func ParseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("malformed metrics: %w", err)
	}
	return fams, nil
}

// Selector names series: a metric name and optional exact label matches,
// written name or name{label="value",...}.
type Selector struct {
	Name   string
	Labels map[string]string
}

// ParseSelector parses name or name{label="value",...}.
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	name, rest, hasLabels := strings.Cut(s, "{")
	name = strings.TrimSpace(name)
	if name == "" || !model.UTF8Validation.IsValidMetricName(name) || strings.ContainsAny(name, " \t()/}\"") {
		return Selector{}, fmt.Errorf("invalid metric name %q", name)
	}
	sel := Selector{Name: name}
	if !hasLabels {
		return sel, nil
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasSuffix(rest, "}") {
		return Selector{}, fmt.Errorf("metric %q: missing closing }", s)
	}
	rest = strings.TrimSuffix(rest, "}")
	sel.Labels = map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		k, after, ok := strings.Cut(rest, "=")
		k = strings.TrimSpace(k)
		after = strings.TrimSpace(after)
		if !ok || k == "" || !strings.HasPrefix(after, `"`) {
			return Selector{}, fmt.Errorf("metric %q: want label=\"value\"", s)
		}
		end := strings.IndexByte(after[1:], '"')
		if end < 0 {
			return Selector{}, fmt.Errorf("metric %q: unterminated label value", s)
		}
		sel.Labels[k] = after[1 : 1+end]
		rest = strings.TrimSpace(after[2+end:])
		rest = strings.TrimPrefix(rest, ",")
	}
	return sel, nil
}

// String formats the selector back in its canonical form.
func (sel Selector) String() string {
	if len(sel.Labels) == 0 {
		return sel.Name
	}
	keys := make([]string, 0, len(sel.Labels))
	for k := range sel.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(sel.Name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, sel.Labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// match returns the family and the series the selector picks from a scrape.
func (sel Selector) match(sc *Scrape) (*dto.MetricFamily, []*dto.Metric) {
	if sc == nil {
		return nil, nil
	}
	f := sc.Families[sel.Name]
	if f == nil {
		return nil, nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		if sel.matches(m) {
			out = append(out, m)
		}
	}
	return f, out
}

func (sel Selector) matches(m *dto.Metric) bool {
	for k, v := range sel.Labels {
		got := "" // an absent label matches "", as in PromQL
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k {
				got = lp.GetValue()
				break
			}
		}
		if got != v {
			return false
		}
	}
	return true
}

// seriesKey identifies a series within its family by its labels.
func seriesKey(m *dto.Metric) string {
	lps := m.GetLabel()
	if len(lps) == 0 {
		return ""
	}
	parts := make([]string, 0, len(lps))
	for _, lp := range lps {
		parts = append(parts, lp.GetName()+"\x00"+lp.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}

// window is one target's first and last scrapes in a step.
type window struct {
	first, last *Scrape
	dt          float64 // seconds between them; 0 with a single scrape
}

// scalar is the value of a counter, gauge or untyped series; for a
// histogram or summary, its sample count.
func scalar(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	case m.Histogram != nil:
		if m.Histogram.SampleCountFloat != nil {
			return m.Histogram.GetSampleCountFloat()
		}
		return float64(m.Histogram.GetSampleCount())
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return math.NaN()
}

// delta sums, over the selected series, how much each grew between the
// first and last scrape. A series that went down was reset (the target
// restarted): its last value is what it grew by. A series born during the
// step counts from zero. ok is false when the metric is absent or there
// is only one scrape.
func (w window) delta(sel Selector) (sum float64, ok bool) {
	return w.deltaOf(sel, scalar)
}

// sampleSum is a histogram's or summary's sum of observations.
func sampleSum(m *dto.Metric) float64 {
	switch {
	case m.Histogram != nil:
		return m.Histogram.GetSampleSum()
	case m.Summary != nil:
		return m.Summary.GetSampleSum()
	}
	return math.NaN()
}

// sumDelta is delta of the selected histograms' or summaries' sums of
// observations: with delta (their counts) it makes their mean over the
// step.
func (w window) sumDelta(sel Selector) (float64, bool) {
	return w.deltaOf(sel, sampleSum)
}

// deltaOf is delta of the series' value v.
func (w window) deltaOf(sel Selector, value func(*dto.Metric) float64) (sum float64, ok bool) {
	if w.dt <= 0 {
		return 0, false
	}
	_, lastS := sel.match(w.last)
	if len(lastS) == 0 {
		return 0, false
	}
	_, firstS := sel.match(w.first)
	prev := make(map[string]float64, len(firstS))
	for _, m := range firstS {
		prev[seriesKey(m)] = value(m)
	}
	for _, m := range lastS {
		v := value(m)
		if math.IsNaN(v) {
			continue
		}
		p, seen := prev[seriesKey(m)]
		switch {
		case !seen:
			sum += v
		case v < p:
			sum += v
		default:
			sum += v - p
		}
	}
	return sum, true
}

// rate is delta per second.
func (w window) rate(sel Selector) (float64, bool) {
	d, ok := w.delta(sel)
	if !ok {
		return 0, false
	}
	return d / w.dt, true
}

// gauge sums the selected series' last values.
func (w window) gauge(sel Selector) (float64, bool) {
	_, s := sel.match(w.last)
	if len(s) == 0 {
		return 0, false
	}
	var sum float64
	for _, m := range s {
		if v := scalar(m); !math.IsNaN(v) {
			sum += v
		}
	}
	return sum, true
}

// histDelta merges the selected histogram series' observations made during
// the step into one histogram.
func (w window) histDelta(sel Selector) (Histogram, bool) {
	if w.dt <= 0 {
		return Histogram{}, false
	}
	f, lastS := sel.match(w.last)
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(lastS) == 0 {
		return Histogram{}, false
	}
	_, firstS := sel.match(w.first)
	prev := make(map[string]*dto.Metric, len(firstS))
	for _, m := range firstS {
		prev[seriesKey(m)] = m
	}
	var parts []Histogram
	for _, m := range lastS {
		h := promHistogram(m.GetHistogram())
		if p := prev[seriesKey(m)]; p != nil && p.Histogram != nil {
			h = h.Sub(promHistogram(p.GetHistogram()))
		}
		parts = append(parts, h)
	}
	return mergeHistograms(parts), true
}

// promHistogram turns cumulative Prometheus buckets into a Histogram. The
// lowest bucket starts at 0 when its upper bound is positive, as in
// histogram_quantile.
func promHistogram(h *dto.Histogram) Histogram {
	type bk struct{ ub, cum float64 }
	var bs []bk
	for _, b := range h.GetBucket() {
		c := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			c = b.GetCumulativeCountFloat()
		}
		bs = append(bs, bk{b.GetUpperBound(), c})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].ub < bs[j].ub })
	total := float64(h.GetSampleCount())
	if h.SampleCountFloat != nil {
		total = h.GetSampleCountFloat()
	}
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].ub, 1) {
		bs = append(bs, bk{math.Inf(1), total})
	}
	lo := math.Inf(-1)
	if bs[0].ub > 0 {
		lo = 0
	}
	out := Histogram{Bounds: []float64{lo}}
	var prev float64
	for _, b := range bs {
		out.Bounds = append(out.Bounds, b.ub)
		out.Counts = append(out.Counts, max(0, b.cum-prev))
		prev = max(prev, b.cum)
	}
	return out
}

// mergeHistograms adds histograms; those with other bounds than the first
// are re-bucketed onto the union of bounds by their cumulative counts.
func mergeHistograms(hs []Histogram) Histogram {
	if len(hs) == 0 {
		return Histogram{}
	}
	same := true
	for _, h := range hs[1:] {
		if !slices.Equal(h.Bounds, hs[0].Bounds) {
			same = false
			break
		}
	}
	if same {
		out := Histogram{Bounds: hs[0].Bounds, Counts: make([]float64, len(hs[0].Counts))}
		for _, h := range hs {
			for i, c := range h.Counts {
				out.Counts[i] += c
			}
		}
		return out
	}
	var bounds []float64
	for _, h := range hs {
		bounds = append(bounds, h.Bounds...)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	cum := make([]float64, len(bounds))
	for _, h := range hs {
		// cumulative count at each of h's own bounds
		var c float64
		own := make([]float64, len(h.Bounds))
		for i := range h.Counts {
			c += h.Counts[i]
			own[i+1] = c
		}
		j := 0
		for i, b := range bounds {
			for j+1 < len(h.Bounds) && h.Bounds[j+1] <= b {
				j++
			}
			if h.Bounds[0] <= b {
				cum[i] += own[j]
			}
		}
	}
	out := Histogram{Bounds: bounds, Counts: make([]float64, len(bounds)-1)}
	for i := 1; i < len(bounds); i++ {
		out.Counts[i-1] = max(0, cum[i]-cum[i-1])
	}
	return out
}

// summaryQuantile returns, over the selected summary series of the last
// scrape, the largest value of the quantile closest to q, and that quantile.
func (w window) summaryQuantile(sel Selector, q float64) (v, got float64, ok bool) {
	f, s := sel.match(w.last)
	if f == nil || f.GetType() != dto.MetricType_SUMMARY {
		return 0, 0, false
	}
	got = math.NaN()
	for _, m := range s {
		for _, qq := range m.GetSummary().GetQuantile() {
			val := qq.GetValue()
			if math.IsNaN(val) {
				continue
			}
			d := math.Abs(qq.GetQuantile() - q)
			switch {
			case math.IsNaN(got) || d < math.Abs(got-q):
				got, v, ok = qq.GetQuantile(), val, true
			case qq.GetQuantile() == got:
				v = max(v, val)
			}
		}
	}
	return v, got, ok
}
