package attack

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// Stream modes (Options.Stream, the scenario's target.stream).
const (
	// StreamAuto reads a body as a stream of events when the response
	// says it is one: Content-Type text/event-stream (server-sent
	// events, as OpenAI-compatible servers stream completions).
	StreamAuto = ""
	// StreamNDJSON also reads newline-delimited JSON bodies (each line an
	// event), which only the scenario can say a body is.
	StreamNDJSON = "ndjson"
	// StreamOff reads every body whole.
	StreamOff = "off"
)

// ndjsonTypes are the content types target.stream: ndjson reads as a
// stream (and a body without one).
var (
	ndjsonTypes = [][]byte{[]byte("application/x-ndjson"), []byte("application/jsonl"), []byte("application/json-seq"), []byte("application/json")}
	eventStream = []byte("text/event-stream")
)

func isNDJSON(ct []byte) bool {
	for _, t := range ndjsonTypes {
		if bytes.EqualFold(ct, t) {
			return true
		}
	}
	return false
}

// StreamModes lists the values target.stream takes.
var StreamModes = []string{"auto", StreamNDJSON, StreamOff}

// MaxEventBytes bounds one event (an SSE event or an NDJSON line): a
// stream's memory is one event, whatever its length.
const MaxEventBytes = 256 << 10

// streamScan reads one response's event stream as it arrives: when its
// first output event came (time to first token), the gaps between output
// events (inter-token latency), how many there were, and the token count
// of the final usage object when the server sends one. One per worker,
// reused.
type streamScan struct {
	mode string
	now  func() time.Time
	// itl receives each gap between output events while record is set
	// (the request was due in the measured window).
	itl    *lockedHist
	record bool

	on       bool // Start took the body
	sse      bool
	line     []byte // the current line, up to MaxEventBytes
	data     []byte // the current SSE event's data lines
	hasData  bool
	overflow bool // a line or event passed MaxEventBytes

	first, last time.Time
	events      int64 // output events
	usage       int64 // usage.completion_tokens of the last usage object, -1 for none
}

func newStreamScan(mode string, now func() time.Time) *streamScan {
	return &streamScan{mode: mode, now: now}
}

// reset prepares the scan for a request; itl, when record, receives its gaps.
func (s *streamScan) reset(itl *lockedHist, record bool) {
	s.itl, s.record = itl, record
	s.on, s.sse, s.hasData, s.overflow = false, false, false, false
	s.line, s.data = s.line[:0], s.data[:0]
	s.first, s.last = time.Time{}, time.Time{}
	s.events, s.usage = 0, -1
	if cap(s.line) > 64<<10 {
		s.line = nil
	}
	if cap(s.data) > 64<<10 {
		s.data = nil
	}
}

// Start implements h1.Streamer.
func (s *streamScan) Start(r *h1.Response) bool {
	if s.mode == StreamOff {
		return false
	}
	// No allocation: Start runs on every response.
	ct, _ := r.HeaderBytes("Content-Type")
	ct, _, _ = bytes.Cut(ct, []byte{';'})
	ct = bytes.TrimSpace(ct)
	switch {
	case bytes.EqualFold(ct, eventStream):
		s.sse, s.on = true, true
	case s.mode == StreamNDJSON && r.Status < 300 && (len(ct) == 0 || isNDJSON(ct)):
		s.on = true
	}
	return s.on
}

// Data implements h1.Streamer: it splits the bytes into lines.
func (s *streamScan) Data(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			return
		}
		s.add(p[:i])
		s.endLine()
		p = p[i+1:]
	}
}

func (s *streamScan) add(b []byte) {
	if len(s.line)+len(b) > MaxEventBytes {
		s.overflow = true
		return
	}
	s.line = append(s.line, b...)
}

// endLine handles a complete line.
func (s *streamScan) endLine() {
	l := bytes.TrimSuffix(s.line, []byte{'\r'})
	defer func() { s.line = s.line[:0] }()
	if !s.sse {
		if len(bytes.TrimSpace(l)) > 0 {
			s.event(l)
		}
		return
	}
	switch {
	case len(l) == 0: // the blank line ends an SSE event
		if s.hasData {
			s.event(s.data)
		}
		s.data, s.hasData = s.data[:0], false
	case l[0] == ':': // a comment (keep-alive)
	default:
		field, value, _ := bytes.Cut(l, []byte{':'})
		if string(field) != "data" {
			return // event:, id:, retry: say nothing of tokens
		}
		value = bytes.TrimPrefix(value, []byte{' '})
		if len(s.data)+len(value)+1 > MaxEventBytes {
			s.overflow = true
			return
		}
		if s.hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		s.hasData = true
	}
}

// event handles one event's data: an output event, a usage object, or
// the end marker.
func (s *streamScan) event(d []byte) {
	d = bytes.TrimSpace(d)
	if string(d) == "[DONE]" {
		return
	}
	out := true
	if len(d) > 0 && d[0] == '{' {
		u, _ := jsonPath(d, "usage.completion_tokens")
		if len(u) > 0 {
			if n, err := strconv.ParseInt(string(u), 10, 64); err == nil && n >= 0 {
				s.usage = n
			}
		}
		if ch, _ := jsonPath(d, "choices"); ch != nil {
			out = carriesOutput(ch)
		} else if len(u) > 0 {
			out = false // a usage object alone
		}
	}
	if out {
		s.output()
	}
}

// output times one output event, now.
func (s *streamScan) output() {
	t := s.now()
	if s.events == 0 {
		s.first = t
	} else if s.record && s.itl != nil {
		s.itl.record(t.Sub(s.last))
	}
	s.last = t
	s.events++
}

// carriesOutput says whether an OpenAI-compatible chunk's choices hold
// output: text or delta content (the first chat chunk names only the
// role, the last may hold only usage). Any other event is output (one
// token, as text-generation servers stream them).
func carriesOutput(choices []byte) bool {
	found := false
	_ = eachItem(choices, func(c []byte) bool {
		for _, path := range []string{"text", "delta.content", "delta.reasoning_content"} {
			if v, _ := jsonPath(c, path); len(v) > 2 && v[0] == '"' {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// tokens is the response's output token count and where it came from:
// the server's usage object when it sent one, else the output events.
func (s *streamScan) tokens() (n int64, fromUsage bool) {
	if s.usage >= 0 {
		return s.usage, true
	}
	return s.events, false
}

// lockedHist is a histogram several workers record into (a step's
// inter-token gaps, of which a stream holds many).
type lockedHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	rc stats.Recorder
}

func newLockedHist() *lockedHist {
	h := stats.New()
	return &lockedHist{h: h, rc: stats.Recorder{H: h}}
}

func (l *lockedHist) record(d time.Duration) {
	l.mu.Lock()
	l.rc.Record(d)
	l.mu.Unlock()
}
