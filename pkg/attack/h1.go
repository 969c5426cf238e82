package attack

import (
	"errors"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// H1Doer sends requests with the lean HTTP/1.1 client (pkg/h1), which
// writes each request's pre-serialized bytes and parses responses without
// allocating. See adr/0007-lean-http1-client.md.
type H1Doer struct {
	D h1.Doer
}

// NewH1Doer returns the default Doer for base (plain http: the lean
// client; https: net/http behind the same interface).
func NewH1Doer(base string, o h1.Options) (*H1Doer, error) {
	d, err := h1.New(base, o)
	if err != nil {
		return nil, err
	}
	return &H1Doer{D: d}, nil
}

// Do implements Doer.
func (d *H1Doer) Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error {
	hr, _ := resp.scratch.(*h1.Response)
	if hr == nil {
		hr = &h1.Response{}
		resp.scratch = hr
		resp.Header = hr.HeaderValue
	}
	hr.Stream = nil
	if resp.stream != nil {
		hr.Stream = resp.stream
	}
	err := d.D.Do(p.Raw, deadline, keepBody, hr)
	resp.Status, resp.Body, resp.BodyLen = hr.Status, hr.Body, hr.BodyLen
	resp.Code, resp.Message = 0, ""
	switch {
	case err == nil:
		return nil
	case errors.Is(err, h1.ErrTimeout):
		return errors.Join(ErrTimeout, err)
	case errors.Is(err, h1.ErrTooLarge):
		return errors.Join(ErrTooLarge, err)
	}
	return err
}

// CloseIdle closes idle connections.
func (d *H1Doer) CloseIdle() { d.D.CloseIdle() }
