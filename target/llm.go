package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LLMModel is the name the bundled service's language model answers to.
const LLMModel = "bestbefore-tiny"

// Defaults of LLMConfig: a tiny model on a fast accelerator, scaled so a
// laptop serves it at tens of requests a second.
const (
	DefaultMaxRunning      = 32
	DefaultTokenBudget     = 16384
	DefaultIterBase        = 4 * time.Millisecond
	DefaultIterPerRequest  = 250 * time.Microsecond
	DefaultPrefillPerToken = 10 * time.Microsecond
	DefaultMaxTokens       = 32
	// MaxLLMTokens bounds max_tokens and a prompt's tokens.
	MaxLLMTokens = 4096
)

// LLMConfig shapes the simulated language model behind the
// OpenAI-compatible completion endpoints, served with continuous
// batching as vLLM and TGI serve: every decoding iteration gives each
// running request one token and costs IterBase + IterPerRequest ×
// (running requests), plus PrefillPerToken × (prompt tokens) of the
// requests that join the batch in it (their prefill makes their first
// token). At most MaxRunning requests run, and only while the prompt and
// max_tokens of all of them fit TokenBudget (the KV cache); the rest wait
// in order. Time to first token then grows with the queue and the time
// between tokens with the batch, as on a real server; its throughput is
// computable: with the batch full of requests of P prompt and T output
// tokens, an iteration takes IterBase + IterPerRequest × N +
// PrefillPerToken × P × N / T and yields N tokens.
type LLMConfig struct {
	MaxRunning      int           `json:"max_running"`
	TokenBudget     int           `json:"token_budget"`
	IterBase        time.Duration `json:"iter_base"`
	IterPerRequest  time.Duration `json:"iter_per_request"`
	PrefillPerToken time.Duration `json:"prefill_per_token"`
	// Queue bounds the requests waiting (default 8 × MaxRunning); beyond
	// it a request is answered 503 at once.
	Queue int `json:"queue"`
	// MaxTokens is the output length of a request that sets no max_tokens.
	MaxTokens int `json:"max_tokens"`
}

// WithDefaults fills unset fields.
func (c LLMConfig) WithDefaults() LLMConfig {
	if c.MaxRunning == 0 {
		c.MaxRunning = DefaultMaxRunning
	}
	if c.TokenBudget == 0 {
		c.TokenBudget = DefaultTokenBudget
	}
	if c.IterBase == 0 && c.IterPerRequest == 0 {
		c.IterBase, c.IterPerRequest = DefaultIterBase, DefaultIterPerRequest
	}
	if c.PrefillPerToken == 0 {
		c.PrefillPerToken = DefaultPrefillPerToken
	}
	if c.Queue == 0 {
		c.Queue = 8 * c.MaxRunning
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	return c
}

// Validate checks a configuration after defaults.
func (c LLMConfig) Validate() error {
	var errs []error
	if c.MaxRunning < 1 || c.MaxRunning > 4096 {
		errs = append(errs, fmt.Errorf("max_running: must be between 1 and 4096, got %d", c.MaxRunning))
	}
	if c.TokenBudget < 2 {
		errs = append(errs, fmt.Errorf("token_budget: must be at least 2, got %d", c.TokenBudget))
	}
	if c.IterBase < 0 || c.IterPerRequest < 0 || c.PrefillPerToken < 0 || c.IterBase+c.IterPerRequest <= 0 {
		errs = append(errs, fmt.Errorf("iter_base, iter_per_request and prefill_per_token: must not be negative, and an iteration must cost something"))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue: must not be negative, got %d", c.Queue))
	}
	if c.MaxTokens < 1 || c.MaxTokens > MaxLLMTokens {
		errs = append(errs, fmt.Errorf("max_tokens: must be between 1 and %d, got %d", MaxLLMTokens, c.MaxTokens))
	}
	return errors.Join(errs...)
}

// TokensPerSecond is the engine's output token throughput with its batch
// full of requests of prompt and output tokens each: what the
// capacity tests hold a best-before in tokens to.
func (c LLMConfig) TokensPerSecond(prompt, output int) float64 {
	n := c.MaxRunning
	if fit := c.TokenBudget / max(1, prompt+output); fit < n {
		n = max(1, fit)
	}
	iter := float64(c.IterBase) + float64(c.IterPerRequest)*float64(n) + float64(c.PrefillPerToken)*float64(prompt)*float64(n)/float64(output)
	return float64(n) / (iter / 1e9)
}

// llmRequest is one request in the engine.
type llmRequest struct {
	ctx     context.Context
	prompt  int
	max     int
	emitted int
	// tokens receives one value per token (buffered for all of them, so
	// the engine never waits on a slow reader); closed after the last.
	tokens chan struct{}
}

// llmEngine is the continuous-batching scheduler of one node.
type llmEngine struct {
	cfg     LLMConfig
	submit  chan *llmRequest
	waiting atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup

	running, queued    prometheus.Gauge
	genTokens, prTotal prometheus.Counter
	kvUsage            prometheus.Gauge
	ttft               prometheus.Histogram
}

func newLLMEngine(cfg LLMConfig, reg *prometheus.Registry) *llmEngine {
	e := &llmEngine{cfg: cfg, submit: make(chan *llmRequest, cfg.Queue+cfg.MaxRunning), stop: make(chan struct{})}
	// The names vLLM exports, with its "vllm:" prefix written "vllm_":
	// promtool refuses colons in the names a target exposes (they are for
	// recording rules), and a dashboard made for vLLM reads these with
	// that one change.
	e.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vllm_num_requests_running", Help: "Requests in the running batch."})
	e.queued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vllm_num_requests_waiting", Help: "Requests waiting to join the batch."})
	e.kvUsage = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vllm_kv_cache_usage_perc", Help: "Share of the token budget (KV cache) the running requests hold, 0-1."})
	e.genTokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm_generation_tokens_total", Help: "Output tokens generated."})
	e.prTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm_prompt_tokens_total", Help: "Prompt tokens prefilled."})
	e.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vllm_time_to_first_token_seconds", Help: "Time from a request's arrival to its first token.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}})
	reg.MustRegister(e.running, e.queued, e.kvUsage, e.genTokens, e.prTotal, e.ttft)
	e.wg.Add(1)
	go e.loop()
	return e
}

func (e *llmEngine) close() {
	close(e.stop)
	e.wg.Wait()
}

var errLLMBusy = errors.New("the request queue is full")

// enqueue adds a request to the waiting queue, or refuses it when the
// queue is full.
func (e *llmEngine) enqueue(r *llmRequest) error {
	if e.waiting.Add(1) > int64(e.cfg.Queue) {
		e.waiting.Add(-1)
		return errLLMBusy
	}
	select {
	case e.submit <- r:
		return nil
	default:
		e.waiting.Add(-1)
		return errLLMBusy
	}
}

// loop runs decoding iterations while any request is running or waiting.
func (e *llmEngine) loop() {
	defer e.wg.Done()
	var running, waiting []*llmRequest
	used := 0
	need := func(r *llmRequest) int { return r.prompt + r.max }
	next := time.Now()
	for {
		if len(running) == 0 && len(waiting) == 0 {
			select {
			case r := <-e.submit:
				waiting = append(waiting, r)
			case <-e.stop:
				return
			}
			next = time.Now()
		}
	drain:
		for {
			select {
			case r := <-e.submit:
				waiting = append(waiting, r)
			default:
				break drain
			}
		}
		prefill := 0
		for len(waiting) > 0 && len(running) < e.cfg.MaxRunning && (len(running) == 0 || used+need(waiting[0]) <= e.cfg.TokenBudget) {
			r := waiting[0]
			waiting = waiting[1:]
			e.waiting.Add(-1)
			if r.ctx.Err() != nil {
				close(r.tokens)
				continue
			}
			running = append(running, r)
			used += need(r)
			prefill += r.prompt
		}
		e.running.Set(float64(len(running)))
		e.queued.Set(float64(len(waiting)))
		e.kvUsage.Set(min(1, float64(used)/float64(e.cfg.TokenBudget)))
		e.prTotal.Add(float64(prefill))
		cost := e.cfg.IterBase + e.cfg.IterPerRequest*time.Duration(len(running)) + e.cfg.PrefillPerToken*time.Duration(prefill)
		next = next.Add(cost)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-e.stop:
				return
			}
		} else if d < -cost {
			next = time.Now() // far behind (the machine stalled): do not catch up in a burst
		}
		kept := running[:0]
		for _, r := range running {
			if r.ctx.Err() == nil {
				r.emitted++
				r.tokens <- struct{}{}
				e.genTokens.Inc()
			}
			if r.ctx.Err() != nil || r.emitted >= r.max {
				close(r.tokens)
				used -= need(r)
				continue
			}
			kept = append(kept, r)
		}
		clear(running[len(kept):])
		running = kept
	}
}

// completionRequest is what the OpenAI-compatible endpoints read of a
// request: /v1/completions takes a prompt, /v1/chat/completions messages.
type completionRequest struct {
	Model     string          `json:"model"`
	Prompt    json.RawMessage `json:"prompt"`
	Messages  []chatMessage   `json:"messages"`
	MaxTokens *int            `json:"max_tokens"`
	// MaxCompletionTokens is the newer name of max_tokens in chat.
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// promptTokens counts a prompt as the model's tokenizer would, roughly:
// a token a word.
func promptTokens(s string) int { return len(strings.Fields(s)) + 1 }

// openAIError answers as OpenAI-compatible servers do.
func openAIError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code}})
}

func (n *Node) registerLLM() {
	n.mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { n.handleCompletion(w, r, false) })
	n.mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { n.handleCompletion(w, r, true) })
	n.mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{"id": LLMModel, "object": "model", "owned_by": "bestbefore", "max_model_len": MaxLLMTokens}}})
	})
}

// parseCompletion reads and checks a completion request: the prompt's
// tokens and the output tokens asked for.
func (n *Node) parseCompletion(r *http.Request, chat bool) (req completionRequest, prompt, maxTokens int, text string, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return req, 0, 0, "", fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return req, 0, 0, "", fmt.Errorf("body over %d bytes", MaxBodyBytes)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, 0, 0, "", fmt.Errorf("body is not a completion request: %v", err)
	}
	if req.Model != "" && req.Model != LLMModel {
		return req, 0, 0, "", fmt.Errorf("model %q does not exist (this server serves %q)", req.Model, LLMModel)
	}
	if chat {
		if len(req.Messages) == 0 {
			return req, 0, 0, "", errors.New("messages: at least one message is required")
		}
		var b strings.Builder
		for i, m := range req.Messages {
			s, err := contentText(m.Content)
			if err != nil {
				return req, 0, 0, "", fmt.Errorf("messages[%d].content: %v", i, err)
			}
			b.WriteString(s)
			b.WriteByte(' ')
		}
		text = b.String()
	} else {
		if len(req.Prompt) == 0 {
			return req, 0, 0, "", errors.New("prompt: required")
		}
		if text, err = contentText(req.Prompt); err != nil {
			return req, 0, 0, "", fmt.Errorf("prompt: %v", err)
		}
	}
	prompt = promptTokens(text)
	maxTokens = n.cfg.LLM.MaxTokens
	for _, m := range []*int{req.MaxTokens, req.MaxCompletionTokens} {
		if m != nil {
			maxTokens = *m
		}
	}
	if maxTokens < 1 || maxTokens > MaxLLMTokens {
		return req, 0, 0, "", fmt.Errorf("max_tokens: must be between 1 and %d, got %d", MaxLLMTokens, maxTokens)
	}
	if prompt+maxTokens > min(MaxLLMTokens, n.cfg.LLM.TokenBudget) {
		return req, 0, 0, "", fmt.Errorf("this model's maximum context length is %d tokens; the prompt has %d and %d more were asked for", min(MaxLLMTokens, n.cfg.LLM.TokenBudget), prompt, maxTokens)
	}
	return req, prompt, maxTokens, text, nil
}

// contentText reads a prompt or a message's content: a string, or a list
// of strings or of {"type":"text","text":...} parts.
func contentText(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("want a string or a list of strings or text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		var t string
		if json.Unmarshal(p, &t) != nil {
			var part struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(p, &part) != nil {
				return "", errors.New("want a string or a list of strings or text parts")
			}
			t = part.Text
		}
		b.WriteString(t)
		b.WriteByte(' ')
	}
	return b.String(), nil
}

// words are the simulated model's output vocabulary.
var words = strings.Fields("the service held its objectives at this load and the queue stayed short while tokens kept coming at an even pace until the batch filled")

func (n *Node) handleCompletion(w http.ResponseWriter, r *http.Request, chat bool) {
	req, prompt, maxTokens, text, err := n.parseCompletion(r, chat)
	if err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	arrived := time.Now()
	lr := &llmRequest{ctx: r.Context(), prompt: prompt, max: maxTokens, tokens: make(chan struct{}, maxTokens)}
	if err := n.llm.enqueue(lr); err != nil {
		n.rejected.Inc()
		openAIError(w, http.StatusServiceUnavailable, "server_busy", err.Error())
		return
	}
	h := fnv.New64a()
	io.WriteString(h, text)
	seed := h.Sum64()
	id := "cmpl-" + strconv.FormatUint(seed, 36)
	created := arrived.Unix()
	object := "text_completion"
	if chat {
		id, object = "chatcmpl-"+strconv.FormatUint(seed, 36), "chat.completion"
	}
	usage := map[string]int{"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}
	word := func(i int) string { return " " + words[(seed+uint64(i))%uint64(len(words))] }
	if !req.Stream {
		var out strings.Builder
		for range lr.tokens {
			if out.Len() == 0 {
				n.llm.ttft.Observe(time.Since(arrived).Seconds())
			}
			out.WriteString(word(usage["completion_tokens"]))
			usage["completion_tokens"]++
		}
		if r.Context().Err() != nil {
			return
		}
		usage["total_tokens"] = prompt + usage["completion_tokens"]
		choice := map[string]any{"index": 0, "text": out.String(), "finish_reason": "length", "logprobs": nil}
		if chat {
			choice = map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": out.String()}, "finish_reason": "length"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": object, "created": created, "model": LLMModel, "choices": []any{choice}, "usage": usage})
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	event := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	chunk := func(delta map[string]any, text string, finish any) map[string]any {
		c := map[string]any{"index": 0, "finish_reason": finish}
		if chat {
			c["delta"] = delta
		} else {
			c["text"], c["logprobs"] = text, nil
		}
		obj := object
		if chat {
			obj = "chat.completion.chunk"
		}
		return map[string]any{"id": id, "object": obj, "created": created, "model": LLMModel, "choices": []any{c}}
	}
	first := true
	for range lr.tokens {
		if first {
			n.llm.ttft.Observe(time.Since(arrived).Seconds())
			if chat {
				event(chunk(map[string]any{"role": "assistant", "content": ""}, "", nil))
			}
			first = false
		}
		t := word(usage["completion_tokens"])
		usage["completion_tokens"]++
		var finish any
		if usage["completion_tokens"] == maxTokens {
			finish = "length"
		}
		event(chunk(map[string]any{"content": t}, t, finish))
	}
	if r.Context().Err() != nil {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		usage["total_tokens"] = prompt + usage["completion_tokens"]
		obj := object
		if chat {
			obj = "chat.completion.chunk"
		}
		event(map[string]any{"id": id, "object": obj, "created": created, "model": LLMModel, "choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}
