package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Std implements Doer on net/http: for https:// targets, and as the
// baseline the lean Client is measured against. It parses each raw
// request with http.ReadRequest, which costs allocations the lean client
// avoids. Redirects are not followed, the body is not decompressed and no
// proxy from the environment is used: the response is the target's own.
type Std struct {
	base   *url.URL
	o      Options
	tr     *http.Transport
	client *http.Client
}

// NewStd returns a Std sending to the scheme and host of baseURL.
func NewStd(baseURL string, o Options) (*Std, error) {
	u, err := ParseBase(baseURL)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	idle := o.MaxConns
	if idle <= 0 {
		idle = 10000
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            o.Guard.Dialer(o.DialTimeout).DialContext,
		MaxResponseHeaderBytes: int64(o.MaxHeaderBytes),
		TLSHandshakeTimeout:    o.DialTimeout,
		MaxConnsPerHost:        o.MaxConns,
		MaxIdleConns:           idle,
		MaxIdleConnsPerHost:    idle,
		DisableCompression:     true,
		ReadBufferSize:         o.ReadBufferSize,
		Protocols:              new(http.Protocols),
	}
	switch o.Protocol {
	case ProtocolH2:
		tr.Protocols.SetHTTP2(true)
	case ProtocolH2C:
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	if o.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs}
	}
	return &Std{base: u, o: o, tr: tr, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Do sends raw through net/http; see Client.Do.
func (s *Std) Do(raw []byte, deadline time.Time, keepBody bool, resp *Response) error {
	resp.Reset()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return fmt.Errorf("h1: cannot parse the request to send: %w", err)
	}
	req.RequestURI = ""
	req.URL.Scheme = s.base.Scheme
	req.URL.Host = s.base.Host
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	r, err := s.client.Do(req.WithContext(ctx))
	if err != nil {
		return stdErr(err)
	}
	defer r.Body.Close()
	resp.Status = r.StatusCode
	for k, vs := range r.Header {
		for _, v := range vs {
			resp.Header = append(append(append(append(resp.Header, k...), ": "...), v...), "\r\n"...)
		}
	}
	if resp.Stream != nil && r.Request.Method != http.MethodHead && resp.Stream.Start(resp) {
		resp.Streamed = true
		return stdStream(r.Body, keepBody, resp, s.o.MaxResponseBytes)
	}
	body := io.Reader(r.Body)
	if s.o.MaxResponseBytes > 0 {
		if r.ContentLength > s.o.MaxResponseBytes {
			return tooLarge(r.ContentLength, s.o.MaxResponseBytes)
		}
		body = io.LimitReader(r.Body, s.o.MaxResponseBytes+1)
	}
	if keepBody {
		resp.Body, err = readAll(body, resp.Body[:0])
		resp.BodyLen = int64(len(resp.Body))
	} else {
		resp.BodyLen, err = io.Copy(io.Discard, body)
	}
	if err != nil {
		return stdErr(err)
	}
	if s.o.MaxResponseBytes > 0 && resp.BodyLen > s.o.MaxResponseBytes {
		return tooLarge(resp.BodyLen, s.o.MaxResponseBytes)
	}
	return nil
}

// stdStream reads a streamed body as it arrives, giving each read to the
// Streamer; the body bound applies only to a body kept.
func stdStream(body io.Reader, keepBody bool, resp *Response, max int64) error {
	var buf [4096]byte
	for {
		n, err := body.Read(buf[:])
		if n > 0 {
			resp.BodyLen += int64(n)
			if keepBody {
				if max > 0 && resp.BodyLen > max {
					return tooLarge(resp.BodyLen, max)
				}
				resp.Body = append(resp.Body, buf[:n]...)
			}
			resp.Stream.Data(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return stdErr(err)
		}
	}
}

// readAll appends r to dst, reusing dst's capacity.
func readAll(r io.Reader, dst []byte) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// stdErr maps net/http's errors onto the package's.
func stdErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	if strings.Contains(err.Error(), "server response headers exceeded") {
		// net/http has no sentinel for MaxResponseHeaderBytes.
		return fmt.Errorf("%w: %v", ErrHeaderTooLarge, err)
	}
	return classify(err)
}

// CloseIdle closes the connections not carrying a request.
func (s *Std) CloseIdle() { s.tr.CloseIdleConnections() }

// New returns a Doer for baseURL: the lean Client for http://, Std for
// https://. Only the scheme and host of baseURL are used; the path of each
// request comes from the raw request.
func New(baseURL string, o Options) (Doer, error) {
	u, err := ParseBase(baseURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "https" || o.Protocol == ProtocolH2 || o.Protocol == ProtocolH2C {
		return NewStd(baseURL, o)
	}
	return NewClient(HostPort(u), o), nil
}

// HostPort returns the host:port to dial for u, with the scheme's default
// port when u has none.
func HostPort(u *url.URL) string {
	return net.JoinHostPort(u.Hostname(), Port(u))
}
