// Package synth generates realistic, reproducible traffic for the bundled
// prediction service: query popularity follows a Zipf law over a
// vocabulary drawn from the service's catalogue words, users too, k takes
// a few usual values, and timestamps follow a daily rate curve (quiet at
// night, peaking in the afternoon). The same options give the same bytes.
package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
	"github.com/bestbefore/bestbefore/target/catalog"
)

// Options shapes the generated traffic.
type Options struct {
	// Requests is how many requests to generate (default 10000).
	Requests int
	// Seed makes the traffic reproducible.
	Seed int64
	// Start is the timestamp of the first request's day (default
	// 2026-11-25T00:00:00Z); Span is how long the traffic lasts (default 24h).
	Start time.Time
	Span  time.Duration
	// Queries is the number of distinct queries (default 3000); ZipfS is the
	// exponent of their popularity (default 1.1, > 1).
	Queries int
	ZipfS   float64
	// Users is the number of distinct users (default 5000); Anonymous is the
	// share of requests without a user (default 0.2).
	Users     int
	Anonymous float64
	// Path is the request path (default /v1/predict).
	Path string
	// API is what the requests call: APIPredict (the default, the
	// bundled service's POST /v1/predict), APIOIPGRPC (the Open Inference
	// Protocol's ModelInfer over gRPC, the body in protobuf JSON) or
	// APIOIPREST (its POST /v2/models/scorer/infer); an OIP request holds
	// one row of the scorer's 16 features.
	API string
}

// The APIs traffic synth writes requests for.
const (
	APIPredict = "predict"
	APIOIPGRPC = "oip-grpc"
	APIOIPREST = "oip-rest"
	// APIChat is the bundled service's OpenAI-compatible chat
	// completions, streamed: prompts of about 40 words (lognormal, 8 to
	// 400) made of the synthetic queries, max_tokens between 16 and 64
	// (32 at the median).
	APIChat = "openai-chat"
)

// APIs lists Options.API's values.
var APIs = []string{APIPredict, APIOIPGRPC, APIOIPREST, APIChat}

// OIP names the bundled service's scorer model and its input.
const (
	oipFeatures = 16
	oipGRPCPath = "/inference.GRPCInferenceService/ModelInfer"
	oipRESTPath = "/v2/models/scorer/infer"
)

// Defaults.
var (
	DefaultStart = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
)

func (o Options) withDefaults() Options {
	if o.Requests == 0 {
		o.Requests = 10000
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Span == 0 {
		o.Span = 24 * time.Hour
	}
	if o.Queries == 0 {
		o.Queries = 3000
	}
	if o.ZipfS == 0 {
		o.ZipfS = 1.1
	}
	if o.Users == 0 {
		o.Users = 5000
	}
	if o.Anonymous == 0 {
		o.Anonymous = 0.2
	}
	if o.API == "" {
		o.API = APIPredict
	}
	if o.Path == "" {
		o.Path = map[string]string{APIPredict: "/v1/predict", APIOIPGRPC: oipGRPCPath, APIOIPREST: oipRESTPath, APIChat: "/v1/chat/completions"}[o.API]
	}
	return o
}

// Validate checks the options after defaults.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.Requests < 1 {
		errs = append(errs, fmt.Errorf("requests: must be at least 1, got %d", o.Requests))
	}
	if o.Span <= 0 {
		errs = append(errs, fmt.Errorf("span: must be positive, got %v", o.Span))
	}
	if o.Queries < 1 {
		errs = append(errs, fmt.Errorf("queries: must be at least 1, got %d", o.Queries))
	}
	if !(o.ZipfS > 1) || math.IsInf(o.ZipfS, 0) {
		errs = append(errs, fmt.Errorf("zipf: the exponent must be above 1, got %v", o.ZipfS))
	}
	if o.Users < 1 {
		errs = append(errs, fmt.Errorf("users: must be at least 1, got %d", o.Users))
	}
	if o.Anonymous < 0 || o.Anonymous > 1 || math.IsNaN(o.Anonymous) {
		errs = append(errs, fmt.Errorf("anonymous: must be a share between 0 and 1, got %v", o.Anonymous))
	}
	if !slices.Contains(APIs, o.API) {
		errs = append(errs, fmt.Errorf("api: must be one of %s, got %q", strings.Join(APIs, ", "), o.API))
	}
	if !strings.HasPrefix(o.Path, "/") {
		errs = append(errs, fmt.Errorf("path: must start with /, got %q", o.Path))
	}
	return errors.Join(errs...)
}

// Rate is the daily shape of the request rate at time of day t, relative
// to the day's mean (its mean over 24 hours is 1): lowest around 04:00,
// highest in the late afternoon, about 3 times the night's rate.
func Rate(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	x := 2 * math.Pi * (h - 13) / 24
	return 1 + 0.55*math.Cos(x-0.9) + 0.15*math.Cos(2*x-1.2)
}

// body is the request body; fields in a fixed order.
type body struct {
	Query string `json:"query"`
	K     int    `json:"k"`
	User  string `json:"user,omitempty"`
}

// Generate calls emit for each request, in timestamp order.
func Generate(opts Options, emit func(*traffic.Request) error) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	o := opts.withDefaults()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5e7d))
	queries := Queries(o.Queries, uint64(o.Seed))
	// rand.Zipf draws k in [0, imax] with P(k) ∝ (v + k)^-s.
	qz := rand.NewZipf(rng, o.ZipfS, 1, uint64(len(queries)-1))
	uz := rand.NewZipf(rng, 1.05, 10, uint64(o.Users-1))
	userIDs := rng.Perm(o.Users) // popular users are not u0, u1, ...

	// Timestamps: a non-homogeneous Poisson process over the span, by
	// inverting its cumulative rate.
	ts := timestamps(rng, o)
	header := http.Header{"Content-Type": {"application/json"}}
	if o.API == APIChat {
		return chat(o, rng, queries, qz, ts, emit)
	}
	if o.API != APIPredict {
		return oip(o, rng, ts, emit)
	}
	for i := 0; i < o.Requests; i++ {
		b := body{Query: queries[qz.Uint64()], K: pickK(rng)}
		if rng.Float64() >= o.Anonymous {
			b.User = fmt.Sprintf("u%d", userIDs[uz.Uint64()])
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		req := &traffic.Request{TS: ts[i], Method: http.MethodPost, Path: o.Path, Header: header, Body: string(raw)}
		if err := emit(req); err != nil {
			return err
		}
	}
	return nil
}

// ChatModel is the model the bundled service's completions answer to.
const ChatModel = "bestbefore-tiny"

// chat emits streamed chat completion requests: a prompt of popular
// queries strung together, about 40 words long at the median, and an
// output length between 16 and 64 tokens.
func chat(o Options, rng *rand.Rand, queries []string, qz *rand.Zipf, ts []time.Time, emit func(*traffic.Request) error) error {
	for i := 0; i < o.Requests; i++ {
		words := int(math.Round(math.Exp(math.Log(40) + 0.6*rng.NormFloat64())))
		words = min(max(words, 8), 400)
		var p []string
		for n := 0; n < words; {
			q := strings.Fields(queries[qz.Uint64()])
			p = append(p, q...)
			n += len(q)
		}
		maxTokens := min(max(int(math.Round(math.Exp(math.Log(32)+0.3*rng.NormFloat64()))), 16), 64)
		content, _ := json.Marshal("Suggest products for: " + strings.Join(p[:min(len(p), words)], " "))
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%s}],"max_tokens":%d,"stream":true,"stream_options":{"include_usage":true}}`, ChatModel, content, maxTokens)
		req := &traffic.Request{TS: ts[i], Method: http.MethodPost, Path: o.Path, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
		if err := emit(req); err != nil {
			return err
		}
	}
	return nil
}

// oip emits Open Inference Protocol requests of one row each, features
// drawn uniformly in [-1, 1) to three decimals.
func oip(o Options, rng *rand.Rand, ts []time.Time, emit func(*traffic.Request) error) error {
	var b strings.Builder
	for i := 0; i < o.Requests; i++ {
		b.Reset()
		feats := make([]string, oipFeatures)
		for j := range feats {
			feats[j] = strconv.FormatFloat(math.Round((rng.Float64()*2-1)*1000)/1000, 'f', -1, 64)
		}
		data := strings.Join(feats, ",")
		req := &traffic.Request{TS: ts[i], Path: o.Path}
		if o.API == APIOIPGRPC {
			fmt.Fprintf(&b, `{"model_name":"scorer","id":"%d","inputs":[{"name":"features","datatype":"FP32","shape":[1,%d],"contents":{"fp32_contents":[%s]}}]}`, i+1, oipFeatures, data)
		} else {
			req.Method, req.Header = http.MethodPost, http.Header{"Content-Type": {"application/json"}}
			fmt.Fprintf(&b, `{"id":"%d","inputs":[{"name":"features","datatype":"FP32","shape":[1,%d],"data":[%s]}]}`, i+1, oipFeatures, data)
		}
		req.Body = b.String()
		if err := emit(req); err != nil {
			return err
		}
	}
	return nil
}

// Write generates the traffic into w.
func Write(w *traffic.Writer, opts Options) error {
	return Generate(opts, w.Write)
}

func pickK(rng *rand.Rand) int {
	switch p := rng.Float64(); {
	case p < 0.50:
		return 5
	case p < 0.85:
		return 10
	case p < 0.95:
		return 20
	default:
		return 50
	}
}

// timestamps draws n sorted times over the span with density ∝ Rate,
// truncated to the millisecond, as access logs record them.
func timestamps(rng *rand.Rand, o Options) []time.Time {
	// Cumulative rate on a one-minute grid.
	const step = time.Minute
	cells := int(o.Span/step) + 1
	cum := make([]float64, cells+1)
	for i := 0; i < cells; i++ {
		cum[i+1] = cum[i] + Rate(o.Start.Add(time.Duration(i)*step))
	}
	total := cum[cells-1] + Rate(o.Start.Add(time.Duration(cells-1)*step))*float64(o.Span-time.Duration(cells-1)*step)/float64(step)
	// Sorted uniforms by the exponential-spacings method, mapped through
	// the inverse cumulative rate.
	out := make([]time.Time, o.Requests)
	gaps := make([]float64, o.Requests+1)
	sum := 0.0
	for i := range gaps {
		gaps[i] = rng.ExpFloat64()
		sum += gaps[i]
	}
	u, j := 0.0, 0
	for i := range out {
		u += gaps[i] / sum
		target := u * total
		for j < cells-1 && cum[j+1] < target {
			j++
		}
		frac := (target - cum[j]) / (cum[j+1] - cum[j])
		if frac < 0 {
			frac = 0
		}
		d := time.Duration(j)*step + time.Duration(frac*float64(step))
		if d > o.Span {
			d = o.Span
		}
		out[i] = o.Start.Add(d).Truncate(time.Millisecond)
	}
	return out
}

// Queries returns n distinct, reproducible search queries made of the
// catalogue's words: a product, often with a brand, adjectives or a
// modifier, and now and then a typo.
func Queries(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 0x9e1e5))
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for tries := 0; len(out) < n && tries < 50*n; tries++ {
		p := catalog.Products[rng.IntN(len(catalog.Products))].Noun
		var w []string
		switch r := rng.Float64(); {
		case r < 0.25:
			w = []string{p}
		case r < 0.55:
			w = []string{catalog.Adjectives[rng.IntN(len(catalog.Adjectives))], p}
		case r < 0.75:
			w = []string{catalog.Brands[rng.IntN(len(catalog.Brands))], p}
		case r < 0.90:
			w = []string{catalog.Adjectives[rng.IntN(len(catalog.Adjectives))], catalog.Adjectives[rng.IntN(len(catalog.Adjectives))], p}
		default:
			w = []string{catalog.Brands[rng.IntN(len(catalog.Brands))], catalog.Adjectives[rng.IntN(len(catalog.Adjectives))], p, catalog.Modifiers[rng.IntN(len(catalog.Modifiers))]}
		}
		if rng.IntN(20) == 0 {
			i := rng.IntN(len(w))
			w[i] = typo(rng, w[i])
		}
		q := strings.Join(w, " ")
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}

// typo drops or swaps a letter.
func typo(rng *rand.Rand, w string) string {
	if len(w) < 4 {
		return w
	}
	i := 1 + rng.IntN(len(w)-2)
	if rng.IntN(2) == 0 {
		return w[:i] + w[i+1:]
	}
	b := []byte(w)
	b[i], b[i+1] = b[i+1], b[i]
	return string(b)
}
