package attack

import (
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// fakeClock steps a millisecond at each reading.
type tick struct{ t time.Time }

func (c *tick) now() time.Time { c.t = c.t.Add(time.Millisecond); return c.t }

// scanAll feeds body to a fresh scan in parts of size n and returns it.
func scanAll(t *testing.T, mode, ctype, body string, n int) *streamScan {
	t.Helper()
	c := &tick{t: time.Unix(0, 0)}
	s := newStreamScan(mode, c.now)
	s.reset(newLockedHist(), true)
	r := &h1.Response{Status: 200, Header: []byte("Content-Type: " + ctype + "\r\n")}
	if !s.Start(r) {
		return s
	}
	for i := 0; i < len(body); i += n {
		s.Data([]byte(body[i:min(len(body), i+n)]))
	}
	return s
}

const chatSSE = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
	": keep-alive\n\n" +
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n" +
	"event: message\r\nid: 3\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n" +
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":\"length\"}]}\n\n" +
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n" +
	"data: [DONE]\n\n"

// Whatever the parts a body arrives in, down to a byte at a time, the
// scan finds the same events: the role chunk, the comment, the usage
// chunk and [DONE] are not output; the usage object gives the count.
func TestStreamScanEveryPartition(t *testing.T) {
	for n := 1; n <= len(chatSSE); n++ {
		s := scanAll(t, StreamAuto, "text/event-stream; charset=utf-8", chatSSE, n)
		if !s.on || s.events != 3 {
			t.Fatalf("parts of %d bytes: on %v, %d output events, want 3", n, s.on, s.events)
		}
		if tok, usage := s.tokens(); tok != 4 || !usage {
			t.Fatalf("parts of %d bytes: %d tokens (usage %v), want 4 from usage", n, tok, usage)
		}
		if s.overflow {
			t.Fatalf("parts of %d bytes: overflow", n)
		}
	}
}

func TestStreamScanKinds(t *testing.T) {
	cases := []struct {
		name, mode, ctype, body string
		on                      bool
		events, tokens          int64
		usage                   bool
	}{
		{"completions without usage", StreamAuto, "text/event-stream",
			"data: {\"choices\":[{\"text\":\" a\"}]}\n\ndata: {\"choices\":[{\"text\":\" b\"}]}\n\ndata: [DONE]\n\n", true, 2, 2, false},
		{"text-generation events", StreamAuto, "text/event-stream",
			"data:{\"token\":{\"id\":1,\"text\":\"a\"}}\n\ndata:{\"token\":{\"id\":2,\"text\":\"b\"}}\n\n", true, 2, 2, false},
		{"plain text events, multi-line data", StreamAuto, "text/event-stream",
			"data: one\ndata: two\n\ndata: three\n\n", true, 2, 2, false},
		{"an event without its blank line is not dispatched", StreamAuto, "text/event-stream",
			"data: x\n\ndata: cut", true, 1, 1, false},
		{"JSON is not a stream unless asked", StreamAuto, "application/json", "{\"a\":1}\n{\"a\":2}\n", false, 0, 0, false},
		{"NDJSON when asked", StreamNDJSON, "application/x-ndjson", "{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}", true, 2, 2, false},
		{"off", StreamOff, "text/event-stream", "data: x\n\n", false, 0, 0, false},
	}
	for _, c := range cases {
		s := scanAll(t, c.mode, c.ctype, c.body, 7)
		tok, usage := s.tokens()
		if s.on != c.on || s.on && (s.events != c.events || tok != c.tokens || usage != c.usage) {
			t.Errorf("%s: on %v, %d events, %d tokens (usage %v); want %v, %d, %d (%v)", c.name, s.on, s.events, tok, usage, c.on, c.events, c.tokens, c.usage)
		}
	}
}

// A stream's memory is one event: a line past MaxEventBytes is not
// kept, and says so.
func TestStreamScanBoundsAnEvent(t *testing.T) {
	body := "data: " + strings.Repeat("x", MaxEventBytes+10) + "\n\ndata: y\n\n"
	s := scanAll(t, StreamAuto, "text/event-stream", body, 4096)
	if !s.overflow || cap(s.line) > 2*MaxEventBytes || cap(s.data) > 2*MaxEventBytes {
		t.Fatalf("overflow %v, line cap %d, data cap %d", s.overflow, cap(s.line), cap(s.data))
	}
}

// The gaps between output events go to the step's inter-token
// histogram, only for a request due in the measured window.
func TestStreamScanRecordsGaps(t *testing.T) {
	c := &tick{t: time.Unix(0, 0)}
	s := newStreamScan(StreamAuto, c.now)
	for _, record := range []bool{false, true} {
		l := newLockedHist()
		s.reset(l, record)
		r := &h1.Response{Status: 200, Header: []byte("Content-Type: text/event-stream\r\n")}
		s.Start(r)
		s.Data([]byte("data: a\n\ndata: b\n\ndata: c\n\n"))
		want := int64(0)
		if record {
			want = 2
		}
		if got := l.h.TotalCount(); got != want {
			t.Errorf("record %v: %d gaps, want %d", record, got, want)
		}
		if got := s.last.Sub(s.first); got != 2*time.Millisecond {
			t.Errorf("first to last %v, want 2ms", got)
		}
	}
}

// FuzzStreamScan: any body, in any parts, leaves the scan bounded and
// its counts consistent.
func FuzzStreamScan(f *testing.F) {
	f.Add(chatSSE, 3, true)
	f.Add("data: {\"choices\":[{\"text\":\"a\"}],\"usage\":{\"completion_tokens\":-1}}\n\n", 1, true)
	f.Add("{\"a\":1}\n{\"usage\":{\"completion_tokens\":99999999999999999999}}\n", 5, false)
	f.Add("data: [DONE]\r\n\r\n:\n\nretry: 10\n\n", 2, true)
	f.Fuzz(func(t *testing.T, body string, n int, sse bool) {
		if n <= 0 {
			n = 1
		}
		ctype, mode := "text/event-stream", StreamAuto
		if !sse {
			ctype, mode = "application/x-ndjson", StreamNDJSON
		}
		s := scanAll(t, mode, ctype, body, n)
		tok, usage := s.tokens()
		if s.events < 0 || tok < 0 || !usage && tok != s.events || s.events > int64(len(body)) {
			t.Fatalf("%d events, %d tokens (usage %v) from %d bytes", s.events, tok, usage, len(body))
		}
		if len(s.line) > MaxEventBytes || len(s.data) > MaxEventBytes {
			t.Fatalf("holds %d + %d bytes", len(s.line), len(s.data))
		}
	})
}

// Start runs on every response, streamed or not: it does not allocate.
func TestStreamStartDoesNotAllocate(t *testing.T) {
	s := newStreamScan(StreamNDJSON, time.Now)
	r := &h1.Response{Status: 200, Header: []byte("Server: x\r\nContent-Type: Application/JSON; charset=utf-8\r\nContent-Length: 2\r\n")}
	if n := testing.AllocsPerRun(100, func() { s.reset(nil, false); s.Start(r) }); n != 0 {
		t.Errorf("Start allocates %v times", n)
	}
	if !s.on {
		t.Error("application/json with ndjson: not a stream")
	}
}
