package attack

import (
	"errors"
	"net/http"
	"strconv"
	"time"
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
	// Header looks up a response header, case-insensitively.
	Header func(name string) (string, bool)
	// scratch is the Doer's own reusable state for this response.
	scratch any
}

// statusLine describes an HTTP status, as a sample error message.
func (r *Response) statusLine() string {
	if t := http.StatusText(r.Status); t != "" {
		return "HTTP " + strconv.Itoa(r.Status) + " " + t
	}
	return "HTTP " + strconv.Itoa(r.Status)
}

// Doer sends one prepared request and reads its response before deadline.
type Doer interface {
	Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error
}
