package traffic

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Bounds that keep Inspect's memory flat for files of any length.
const (
	// inspectTopCap is how many paths the top-paths counter tracks at
	// once (Space-Saving: counts are exact while fewer distinct paths
	// were seen, and over-estimates by at most the error shown otherwise).
	inspectTopCap = 2048
	// inspectHeaderCap is how many distinct header names are counted.
	inspectHeaderCap = 256
	// inspectDistinctCap bounds the set of request hashes used for the
	// repeated share: 4M hashes, 64 MB at most. Past it the share is a
	// lower bound.
	inspectDistinctCap = 4 << 20
	// inspectRateBuckets bounds the per-second counts; a longer span is
	// counted in coarser buckets (2 s, 4 s, ...).
	inspectRateBuckets = 1 << 20
	// SparklineWidth is the number of characters of the rate sparkline.
	SparklineWidth = 60
)

// Summary describes a traffic file.
type Summary struct {
	File     string `json:"file"`
	Requests int64  `json:"requests"`
	// Timed is how many requests carry a ts; the time figures use them.
	Timed      int64     `json:"timed"`
	First      time.Time `json:"first,omitzero"`
	Last       time.Time `json:"last,omitzero"`
	SpanSec    float64   `json:"span_s"`
	OutOfOrder int64     `json:"out_of_order"` // requests stamped earlier than the one before
	MeanRate   float64   `json:"mean_rate_per_s"`
	PeakRate   float64   `json:"peak_rate_per_s"`
	// PeakWindowSec is the window the peak rate is measured over: 1 s,
	// coarser for spans longer than about 12 days.
	PeakWindowSec int64 `json:"peak_window_s"`
	// Rate is the rate over time in SparklineWidth slices (requests per
	// second, averaged over each slice); Sparkline draws it.
	Rate      []float64 `json:"rate_per_s,omitempty"`
	Sparkline string    `json:"sparkline,omitempty"`

	Methods    []NameCount `json:"methods"`
	TopPaths   []NameCount `json:"top_paths"`
	PathsExact bool        `json:"top_paths_exact"`
	Headers    []NameCount `json:"headers"`
	BodyBytes  BodySizes   `json:"body_bytes"`
	Truncated  int64       `json:"truncated"`
	// CutOff is set for a gzip file cut off before its end (a recording
	// killed outright): the figures hold its complete lines only.
	CutOff  bool        `json:"cut_off"`
	Base64  int64       `json:"body_base64"`
	Repeats RepeatShare `json:"repeats"`
	// Completions describes the OpenAI-style completion requests
	// (/v1/completions, /v1/chat/completions) the file holds; absent
	// when it holds none.
	Completions *Completions `json:"completions,omitempty"`
}

// Completions are the prompt and output lengths of a traffic file's
// completion requests, what an LLM service's capacity depends on.
type Completions struct {
	Requests int64 `json:"requests"`
	Streamed int64 `json:"streamed"`
	// PromptTokens are estimated from the prompt's text (EstimateTokens:
	// no tokenizer is at hand); MaxTokens are as asked (max_tokens or
	// max_completion_tokens), for the requests that ask.
	PromptTokens BodySizes `json:"prompt_tokens"`
	MaxTokens    BodySizes `json:"max_tokens"`
}

// EstimateTokens is a text's length in tokens where no tokenizer is at
// hand: about four characters a token, OpenAI's own rule of thumb for
// English, and never under one.
func EstimateTokens(s string) int {
	return max(1, (utf8.RuneCountInString(s)+3)/4)
}

// completionLengths reads a completion request's prompt length in
// tokens, the output tokens it asks for (0 when it does not say) and
// whether it streams; ok is false for a body that is not one.
func completionLengths(body []byte) (prompt, maxTokens int, stream, ok bool) {
	var b struct {
		Prompt   json.RawMessage `json:"prompt"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		MaxTokens           *int `json:"max_tokens"`
		MaxCompletionTokens *int `json:"max_completion_tokens"`
		Stream              bool `json:"stream"`
	}
	if json.Unmarshal(body, &b) != nil || b.Prompt == nil && b.Messages == nil {
		return 0, 0, false, false
	}
	text := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var parts []json.RawMessage
		_ = json.Unmarshal(raw, &parts)
		var out strings.Builder
		for _, p := range parts {
			var part struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(p, &s) == nil {
				out.WriteString(s)
			} else if json.Unmarshal(p, &part) == nil {
				out.WriteString(part.Text)
			}
		}
		return out.String()
	}
	var all strings.Builder
	all.WriteString(text(b.Prompt))
	for _, m := range b.Messages {
		all.WriteString(text(m.Content))
	}
	for _, m := range []*int{b.MaxTokens, b.MaxCompletionTokens} {
		if m != nil && *m > 0 {
			maxTokens = *m
		}
	}
	return EstimateTokens(all.String()), maxTokens, b.Stream, true
}

// sizesOf fills percentiles from a histogram holding n values.
func sizesOf(h *hdrhistogram.Histogram, n int64) BodySizes {
	if n == 0 {
		return BodySizes{}
	}
	return BodySizes{WithBody: n, P50: stats.ValueAtQuantile(h, 50), P90: stats.ValueAtQuantile(h, 90), P99: stats.ValueAtQuantile(h, 99), Max: h.Max(), Mean: h.Mean()}
}

// NameCount is a name and how many requests had it.
type NameCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	// Err bounds the over-count of an approximate top-path count.
	Err int64 `json:"err,omitempty"`
}

// BodySizes are body size percentiles in bytes.
type BodySizes struct {
	WithBody int64   `json:"with_body"`
	P50      int64   `json:"p50"`
	P90      int64   `json:"p90"`
	P99      int64   `json:"p99"`
	Max      int64   `json:"max"`
	Mean     float64 `json:"mean"`
}

// RepeatShare is what a cache in front of the target would see: the share
// of requests identical (method, path and body) to an earlier one.
type RepeatShare struct {
	Distinct int64   `json:"distinct"`
	Share    float64 `json:"share"`
	// Exact is false when the file held more distinct requests than the
	// set tracks; the share is then a lower bound.
	Exact bool `json:"exact"`
}

// InspectFile opens and inspects a traffic file.
func InspectFile(path string) (*Summary, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return Inspect(r)
}

// Inspect reads every request of r, validating each line, and summarizes
// them in memory bounded whatever the file's length. It returns the first
// *LineError met, or ErrEmpty.
func Inspect(r *Reader) (*Summary, error) {
	s := &Summary{File: r.name, PathsExact: true, Repeats: RepeatShare{Exact: true}}
	methods := map[string]int64{}
	headers := map[string]int64{}
	var otherHeaders int64
	top := newTopK(inspectTopCap)
	seed := maphash.MakeSeed()
	seen := newHashSet()
	sizes := hdrhistogram.New(1, MaxLine, 3)
	rates := &rateBuckets{width: 1}
	var comp Completions
	promptH, maxH := hdrhistogram.New(1, MaxLine, 3), hdrhistogram.New(1, 1<<24, 3)
	var prev time.Time
	var h maphash.Hash
	h.SetSeed(seed)
	for {
		req, err := r.Next()
		if errors.Is(err, io.EOF) {
			s.CutOff = r.Truncated()
			break
		}
		if err != nil {
			return nil, err
		}
		s.Requests++
		m := req.MethodOrGet()
		methods[m]++
		p := req.Path
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		top.add(p)
		for k := range req.Header {
			k = http.CanonicalHeaderKey(k)
			if _, ok := headers[k]; ok || len(headers) < inspectHeaderCap {
				headers[k]++
			} else {
				otherHeaders++
			}
		}
		body := req.BodyBytes()
		if len(body) > 0 {
			s.BodyBytes.WithBody++
			sizes.RecordValue(int64(len(body)))
		}
		if strings.HasSuffix(p, "/completions") {
			if prompt, maxTokens, stream, ok := completionLengths(body); ok {
				comp.Requests++
				_ = promptH.RecordValue(int64(prompt))
				if maxTokens > 0 {
					comp.MaxTokens.WithBody++
					_ = maxH.RecordValue(int64(min(maxTokens, 1<<24)))
				}
				if stream {
					comp.Streamed++
				}
			}
		}
		if req.Truncated {
			s.Truncated++
		}
		if req.BodyBase64 != "" {
			s.Base64++
		}
		h.Reset()
		h.WriteString(m)
		h.WriteByte(0)
		h.WriteString(req.Path)
		h.WriteByte(0)
		h.Write(body)
		sum := h.Sum64()
		if !seen.has(sum) {
			s.Repeats.Distinct++
			if seen.n < inspectDistinctCap {
				seen.add(sum)
			} else {
				s.Repeats.Exact = false
			}
		}
		if !req.TS.IsZero() {
			s.Timed++
			if s.First.IsZero() || req.TS.Before(s.First) {
				s.First = req.TS
			}
			if req.TS.After(s.Last) {
				s.Last = req.TS
			}
			if !prev.IsZero() && req.TS.Before(prev) {
				s.OutOfOrder++
			}
			prev = req.TS
			rates.add(req.TS.Unix())
		}
	}
	if s.Requests == 0 {
		return nil, ErrEmpty
	}
	s.Methods = sortedCounts(methods, 0)
	s.Headers = sortedCounts(headers, 0)
	if otherHeaders > 0 {
		s.Headers = append(s.Headers, NameCount{Name: "(other)", Count: otherHeaders})
	}
	s.TopPaths, s.PathsExact = top.top(10)
	if s.BodyBytes.WithBody > 0 {
		s.BodyBytes.P50 = stats.ValueAtQuantile(sizes, 50)
		s.BodyBytes.P90 = stats.ValueAtQuantile(sizes, 90)
		s.BodyBytes.P99 = stats.ValueAtQuantile(sizes, 99)
		s.BodyBytes.Max = sizes.Max()
		s.BodyBytes.Mean = sizes.Mean()
	}
	s.Repeats.Share = float64(s.Requests-s.Repeats.Distinct) / float64(s.Requests)
	if comp.Requests > 0 {
		comp.PromptTokens = sizesOf(promptH, comp.Requests)
		comp.MaxTokens = sizesOf(maxH, comp.MaxTokens.WithBody)
		s.Completions = &comp
	}
	if s.Timed > 0 {
		s.SpanSec = s.Last.Sub(s.First).Seconds()
		// Rates count whole seconds: a file spanning 0.2 s holds one
		// second of traffic.
		s.MeanRate = float64(s.Timed) / (float64(s.Last.Unix()-s.First.Unix()) + 1)
		s.PeakWindowSec = rates.width
		s.PeakRate = float64(rates.max()) / float64(rates.width)
		s.Rate = rates.slices(SparklineWidth)
		s.Sparkline = Sparkline(s.Rate)
	}
	return s, nil
}

func sortedCounts(m map[string]int64, limit int) []NameCount {
	out := make([]NameCount, 0, len(m))
	for k, v := range m {
		out = append(out, NameCount{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Sparkline draws values as a line of Unicode blocks scaled to the largest.
func Sparkline(v []float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	runes := []rune(blocks)
	maxv := 0.0
	for _, x := range v {
		maxv = max(maxv, x)
	}
	var b strings.Builder
	for _, x := range v {
		i := 0
		if maxv > 0 {
			i = int(x / maxv * float64(len(runes)-1))
		}
		b.WriteRune(runes[min(i, len(runes)-1)])
	}
	return b.String()
}

// hashSet is an open-addressing set of 64-bit hashes: 8 bytes a slot,
// at most half full, about a third of what a Go map of the same keys takes.
type hashSet struct {
	slots []uint64 // 0 marks an empty slot; the hash 0 is stored as 1
	n     int
}

func newHashSet() *hashSet { return &hashSet{slots: make([]uint64, 1024)} }

func (h *hashSet) find(x uint64) (int, bool) {
	if x == 0 {
		x = 1
	}
	mask := len(h.slots) - 1
	for i := int(x) & mask; ; i = (i + 1) & mask {
		switch h.slots[i] {
		case x:
			return i, true
		case 0:
			return i, false
		}
	}
}

func (h *hashSet) has(x uint64) bool { _, ok := h.find(x); return ok }

func (h *hashSet) add(x uint64) {
	if x == 0 {
		x = 1
	}
	i, ok := h.find(x)
	if ok {
		return
	}
	h.slots[i] = x
	h.n++
	if 2*h.n > len(h.slots) {
		old := h.slots
		h.slots = make([]uint64, 2*len(old))
		for _, v := range old {
			if v != 0 {
				j, _ := h.find(v)
				h.slots[j] = v
			}
		}
	}
}

// rateBuckets counts requests per time bucket of width seconds over the
// span seen so far; the width doubles when the span outgrows the cap.
type rateBuckets struct {
	origin int64 // start of buckets[0], a multiple of width
	width  int64
	counts []uint32
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (r *rateBuckets) add(sec int64) {
	if r.counts == nil {
		r.origin = sec
		r.counts = make([]uint32, 1, 64)
	}
	idx := floorDiv(sec-r.origin, r.width)
	if idx < 0 || idx >= int64(len(r.counts)) {
		lo := min(r.origin, floorDiv(sec, r.width)*r.width)
		hi := max(r.origin+int64(len(r.counts))*r.width, (floorDiv(sec, r.width)+1)*r.width)
		r.resize(lo, hi)
		idx = floorDiv(sec-r.origin, r.width)
	}
	r.counts[idx]++
}

// resize makes the buckets cover [lo, hi), coarsening while they would be
// too many, with slack on the side that grew so sorted input and reverse
// sorted input both grow in amortized constant time.
func (r *rateBuckets) resize(lo, hi int64) {
	width := r.width
	grownLo := lo < r.origin
	n := func(w int64) int64 { return floorDiv(hi-1, w) - floorDiv(lo, w) + 1 }
	for n(width) > inspectRateBuckets {
		width *= 2
	}
	oldOrigin, oldWidth, old := r.origin, r.width, r.counts
	slack := min(n(width), int64(inspectRateBuckets)-n(width))
	start := floorDiv(lo, width)
	count := n(width) + slack
	if grownLo {
		start -= slack
	}
	counts := make([]uint32, count)
	for i, c := range old {
		if c == 0 {
			continue
		}
		sec := oldOrigin + int64(i)*oldWidth
		counts[floorDiv(sec, width)-start] += c
	}
	r.origin, r.width, r.counts = start*width, width, counts
}

func (r *rateBuckets) max() uint32 {
	var m uint32
	for _, c := range r.counts {
		m = max(m, c)
	}
	return m
}

// slices averages the rate (per second) over n equal slices of the span
// holding requests.
func (r *rateBuckets) slices(n int) []float64 {
	first, last := -1, -1
	for i, c := range r.counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	used := r.counts[first : last+1]
	if len(used) < n {
		n = len(used)
	}
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		a, b := i*len(used)/n, (i+1)*len(used)/n
		var sum uint64
		for _, c := range used[a:b] {
			sum += uint64(c)
		}
		out[i] = float64(sum) / float64(int64(b-a)*r.width)
	}
	return out
}

// topK is the Space-Saving heavy-hitters counter: at most k keys, each
// with a count and the error it may over-count by.
type topK struct {
	k       int
	idx     map[string]*topEntry
	h       topHeap
	evicted bool
}

type topEntry struct {
	key        string
	count, err int64
	pos        int
}

type topHeap []*topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].pos = i; h[j].pos = j }
func (h *topHeap) Push(x any)        { e := x.(*topEntry); e.pos = len(*h); *h = append(*h, e) }
func (h *topHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newTopK(k int) *topK { return &topK{k: k, idx: make(map[string]*topEntry, k)} }

func (t *topK) add(key string) {
	if e, ok := t.idx[key]; ok {
		e.count++
		heap.Fix(&t.h, e.pos)
		return
	}
	if len(t.h) < t.k {
		e := &topEntry{key: strings.Clone(key), count: 1}
		t.idx[e.key] = e
		heap.Push(&t.h, e)
		return
	}
	// Replace the smallest: the newcomer inherits its count as error.
	t.evicted = true
	e := t.h[0]
	delete(t.idx, e.key)
	e.key, e.err = strings.Clone(key), e.count
	e.count++
	t.idx[e.key] = e
	heap.Fix(&t.h, 0)
}

func (t *topK) top(n int) ([]NameCount, bool) {
	all := make([]*topEntry, len(t.h))
	copy(all, t.h)
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return all[i].key < all[j].key
	})
	if len(all) > n {
		all = all[:n]
	}
	out := make([]NameCount, len(all))
	for i, e := range all {
		out[i] = NameCount{Name: e.key, Count: e.count, Err: e.err}
	}
	return out, !t.evicted
}

// WriteText prints the summary for a reader.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d requests", s.File, s.Requests)
	if s.Timed > 0 {
		fmt.Fprintf(&b, " over %s (%s .. %s)", fmtSpan(s.SpanSec), s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339))
	}
	b.WriteString("\n")
	if s.Timed == 0 {
		b.WriteString("  rate       no timestamps: only rate-based replay applies\n")
	} else {
		if s.Timed < s.Requests {
			fmt.Fprintf(&b, "  untimed    %d requests without ts\n", s.Requests-s.Timed)
		}
		win := ""
		if s.PeakWindowSec > 1 {
			win = fmt.Sprintf(" (averaged over %d s windows)", s.PeakWindowSec)
		}
		fmt.Fprintf(&b, "  rate       mean %.1f/s, peak %.0f/s%s\n", s.MeanRate, s.PeakRate, win)
		if s.Sparkline != "" {
			fmt.Fprintf(&b, "             %s\n", s.Sparkline)
		}
		if s.OutOfOrder > 0 {
			fmt.Fprintf(&b, "  order      %d requests stamped before the previous one\n", s.OutOfOrder)
		}
	}
	b.WriteString("  methods   ")
	for _, c := range s.Methods {
		fmt.Fprintf(&b, " %s %d (%.1f%%)", c.Name, c.Count, pct(c.Count, s.Requests))
	}
	b.WriteString("\n")
	approx := ""
	if !s.PathsExact {
		approx = " (approximate: many distinct paths)"
	}
	fmt.Fprintf(&b, "  top paths%s\n", approx)
	for _, c := range s.TopPaths {
		fmt.Fprintf(&b, "    %8d  %5.1f%%  %s\n", c.Count, pct(c.Count, s.Requests), c.Name)
	}
	if s.BodyBytes.WithBody == 0 {
		b.WriteString("  bodies     none\n")
	} else {
		fmt.Fprintf(&b, "  bodies     %d with a body: p50 %d B, p90 %d B, p99 %d B, max %d B\n",
			s.BodyBytes.WithBody, s.BodyBytes.P50, s.BodyBytes.P90, s.BodyBytes.P99, s.BodyBytes.Max)
	}
	if s.Truncated > 0 {
		fmt.Fprintf(&b, "  truncated  %d bodies stored truncated\n", s.Truncated)
	}
	if s.CutOff {
		b.WriteString("  cut off    the gzip stream ends before its trailer (a recording stopped outright): every complete line is counted, the partial last one is not\n")
	}
	if len(s.Headers) > 0 {
		b.WriteString("  headers   ")
		for _, c := range s.Headers {
			fmt.Fprintf(&b, " %s (%d)", c.Name, c.Count)
		}
		b.WriteString("\n")
	}
	bound := ""
	if !s.Repeats.Exact {
		bound = " at least"
	}
	fmt.Fprintf(&b, "  repeats   %s %.1f%% of requests repeat an earlier one (%d distinct): what a cache would see\n", bound, 100*s.Repeats.Share, s.Repeats.Distinct)
	if c := s.Completions; c != nil {
		fmt.Fprintf(&b, "  completions %d (%d streamed)\n", c.Requests, c.Streamed)
		p := c.PromptTokens
		fmt.Fprintf(&b, "    prompt     p50 %d, p90 %d, p99 %d, max %d tokens (mean %.0f; about 4 characters a token)\n", p.P50, p.P90, p.P99, p.Max, p.Mean)
		if m := c.MaxTokens; m.WithBody > 0 {
			fmt.Fprintf(&b, "    max output p50 %d, p90 %d, p99 %d, max %d tokens (mean %.0f; %d of %d ask)\n", m.P50, m.P90, m.P99, m.Max, m.Mean, m.WithBody, c.Requests)
		} else {
			b.WriteString("    max output not asked: the server's default applies\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func fmtSpan(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Minute:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
