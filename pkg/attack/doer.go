package attack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrTooLarge is returned when a response body exceeds the configured bound.
var ErrTooLarge = errors.New("attack: response body too large")

// ErrTimeout is returned when a request does not complete by its deadline.
var ErrTimeout = errors.New("attack: request timed out")

// Response is what a Doer read. Buffers are reused between requests.
type Response struct {
	Status  int
	Body    []byte
	BodyLen int64
	// Header looks up a response header, case-insensitively.
	Header func(name string) (string, bool)
	// scratch is the Doer's own reusable state for this response.
	scratch any
}

// Doer sends one prepared request and reads its response before deadline.
type Doer interface {
	Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error
}

// StdDoer sends requests with net/http. It serves https:// targets and is
// the reference the lean client is measured against.
type StdDoer struct {
	Client   *http.Client
	MaxBytes int64
}

// NewStdDoer returns a net/http Doer with keep-alive pooling sized for
// maxConns concurrent requests.
func NewStdDoer(maxConns int, maxBytes int64) *StdDoer {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &StdDoer{Client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, MaxBytes: maxBytes}
}

// Do implements Doer.
func (d *StdDoer) Do(p *Prepared, deadline time.Time, keepBody bool, resp *Response) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if p.URL == "" {
		// Prepared for the lean client: only the raw bytes were kept.
		rr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p.Raw)))
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rr.Body)
		q := *p
		q.URL, q.Header, q.Body = "http://"+rr.Host+rr.URL.RequestURI(), rr.Header, b
		p = &q
	}
	var body io.Reader
	if len(p.Body) > 0 {
		body = bytes.NewReader(p.Body)
	}
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, body)
	if err != nil {
		return err
	}
	req.Header = p.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Del("Content-Length")
	res, err := d.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ErrTimeout
		}
		return err
	}
	defer res.Body.Close()
	resp.Status = res.StatusCode
	hdr := res.Header
	resp.Header = func(name string) (string, bool) {
		v, ok := hdr[http.CanonicalHeaderKey(name)]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	limit := d.MaxBytes
	if limit <= 0 {
		limit = 1 << 62
	}
	lr := &io.LimitedReader{R: res.Body, N: limit + 1}
	if keepBody {
		resp.Body = resp.Body[:0]
		buf := bytes.NewBuffer(resp.Body)
		n, err := buf.ReadFrom(lr)
		resp.Body, resp.BodyLen = buf.Bytes(), n
		if err != nil {
			return classifyCtx(ctx, err)
		}
	} else {
		n, err := io.Copy(io.Discard, lr)
		resp.BodyLen = n
		if err != nil {
			return classifyCtx(ctx, err)
		}
	}
	if resp.BodyLen > limit {
		return ErrTooLarge
	}
	return nil
}

// CloseIdle closes the connections not carrying a request.
func (d *StdDoer) CloseIdle() { d.Client.CloseIdleConnections() }

func classifyCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ErrTimeout
	}
	return err
}
