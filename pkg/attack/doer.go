package attack

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/result"
)

// ErrTooLarge is returned when a response body exceeds the configured bound.
var ErrTooLarge = errors.New("attack: response body too large")

// ErrTimeout is returned when a request does not complete by its deadline.
var ErrTimeout = errors.New("attack: request timed out")

// Response is what a Doer read. Buffers are reused between requests.
type Response struct {
	Status int
	// Recorded is the status the request's traffic line was recorded
	// with, 0 when unknown.
	Recorded int
	Body     []byte
	BodyLen  int64
	// Code is a gRPC call's status code, 0 for OK and for every HTTP
	// response; Message is its status message.
	Code    int
	Message string
	// Header looks up a response header, case-insensitively.
	Header func(name string) (string, bool)
	// scratch is the Doer's own reusable state for this response.
	scratch any
	// stream reads an event stream's body as it arrives (time to first
	// token, between tokens), nil when streams are not read.
	stream *streamScan
}

// statusLine describes an HTTP status, as a sample error message.
func (r *Response) statusLine() string {
	if t := http.StatusText(r.Status); t != "" {
		return "HTTP " + strconv.Itoa(r.Status) + " " + t
	}
	return "HTTP " + strconv.Itoa(r.Status)
}

// codeLine describes a gRPC status, as a sample error message.
func (r *Response) codeLine() string {
	name := strings.ToUpper(strings.TrimPrefix(result.GRPCClasses[r.Code], "grpc_"))
	if r.Message == "" {
		return "gRPC " + name
	}
	return "gRPC " + name + ": " + r.Message
}

// Doer sends one prepared request and reads its response before deadline.
type Doer interface {
	Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error
}

// BeginStream marks the response as a stream of messages (a gRPC
// server-streaming call), whose each message is an output event timed as
// it comes (Event); false when streams are not read (target.stream: off).
func (r *Response) BeginStream() bool {
	if r.stream == nil || r.stream.mode == StreamOff {
		return false
	}
	r.stream.on = true
	return true
}

// Event times one output event of a stream BeginStream began, now.
func (r *Response) Event() {
	if r.stream != nil && r.stream.on {
		r.stream.output()
	}
}

// Scratch is the Doer's own reusable state kept with this Response (nil
// on its first request); a Doer of another package keeps it with
// SetScratch.
func (r *Response) Scratch() any { return r.scratch }

// SetScratch keeps a Doer's reusable state with this Response.
func (r *Response) SetScratch(v any) { r.scratch = v }
