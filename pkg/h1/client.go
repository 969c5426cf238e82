package h1

import (
	"bufio"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Errors a caller classifies with errors.Is.
var (
	// ErrTimeout means the exchange did not finish before its deadline;
	// the connection was closed.
	ErrTimeout = errors.New("h1: request deadline exceeded")
	// ErrTooLarge means the response body is above MaxResponseBytes; the
	// connection was closed.
	ErrTooLarge = errors.New("h1: response body too large")
	// ErrHeaderTooLarge means the status line and header fields of a
	// response are above MaxHeaderBytes or MaxHeaderFields; the
	// connection was closed.
	ErrHeaderTooLarge = errors.New("h1: response header too large")
	// ErrMalformed means the response is not valid HTTP/1.x; the
	// connection was closed.
	ErrMalformed = errors.New("h1: malformed response")
)

// Defaults applied to zero Options fields.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultReadBufferSize = 4096
	// DefaultMaxHeaderBytes bounds a response's header block, interim
	// responses included: 1 MiB, net/http's server default.
	DefaultMaxHeaderBytes = 1 << 20
	// DefaultMaxHeaderFields bounds the number of header fields.
	DefaultMaxHeaderFields = 1000
)

// The protocols a target can be spoken to in.
const (
	ProtocolHTTP1 = "http1"
	// ProtocolH2 is HTTP/2 over TLS, negotiated by ALPN (https://).
	ProtocolH2 = "h2"
	// ProtocolH2C is HTTP/2 without TLS, by prior knowledge (http://).
	ProtocolH2C = "h2c"
)

// Protocols lists the protocols, for validation and help.
var Protocols = []string{ProtocolHTTP1, ProtocolH2, ProtocolH2C}

// Options tune a Client or a Std.
type Options struct {
	// Protocol is ProtocolHTTP1 ("" too), ProtocolH2 or ProtocolH2C.
	// HTTP/2 goes through Std, its streams multiplexed over at most
	// MaxConns connections.
	Protocol string
	// RootCAs, when set, are the authorities an https:// target's
	// certificate must chain to, instead of the system's.
	RootCAs *x509.CertPool
	// MaxConns bounds the connections, hence the requests in flight;
	// a Do beyond it waits for a free connection until its deadline.
	// 0 means no limit.
	MaxConns int
	// DialTimeout bounds connecting (the request deadline bounds it too).
	// 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxResponseBytes is the largest response body accepted, kept or not;
	// a larger one fails with ErrTooLarge. 0 means no limit.
	MaxResponseBytes int64
	// ReadBufferSize is the per-connection read buffer. A longer status
	// or header line is still read whole (MaxHeaderBytes bounds it). 0
	// means DefaultReadBufferSize.
	ReadBufferSize int
	// MaxHeaderBytes and MaxHeaderFields bound a response's header block
	// (bytes and fields); past either the response fails with
	// ErrHeaderTooLarge. 0 means DefaultMaxHeaderBytes and
	// DefaultMaxHeaderFields.
	MaxHeaderBytes  int
	MaxHeaderFields int
	// Guard checks every address about to be dialed, after name
	// resolution; its zero value refuses public and link-local addresses.
	Guard Guard
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxHeaderFields <= 0 {
		o.MaxHeaderFields = DefaultMaxHeaderFields
	}
	return o
}

// Doer sends one serialized request (see AppendRequest) and reads its
// response. Client and Std implement it.
type Doer interface {
	Do(raw []byte, deadline time.Time, keepBody bool, resp *Response) error
	CloseIdle()
}

var (
	_ Doer = (*Client)(nil)
	_ Doer = (*Std)(nil)
)

// Client is an HTTP/1.1 client for one host:port over plain TCP, with a
// pool of keep-alive connections. It is safe for concurrent use.
type Client struct {
	addr   string
	o      Options
	dialer net.Dialer
	// slots bounds the requests in flight when MaxConns > 0.
	slots chan struct{}

	mu   sync.Mutex
	idle []*conn // a stack: the most recently used connection is on top
}

type conn struct {
	nc net.Conn
	rw io.ReadWriter
	p  parser
}

// NewClient returns a Client for addr ("host:port").
func NewClient(addr string, o Options) *Client {
	o = o.withDefaults()
	c := &Client{addr: addr, o: o, dialer: *o.Guard.Dialer(o.DialTimeout)}
	if o.MaxConns > 0 {
		c.slots = make(chan struct{}, o.MaxConns)
	}
	return c
}

// Do writes raw, a complete serialized request, on a keep-alive connection
// and reads the response into resp. The exchange must finish before
// deadline (the zero time means none), else Do returns ErrTimeout and
// closes the connection. With keepBody the body is copied into resp.Body,
// reusing its capacity; otherwise it is read and discarded. resp must not
// be nil; a caller keeps one per goroutine and reuses it.
//
// A reused connection that turns out to have been closed by the server
// while idle (the write fails, or the connection ends before any byte of
// the response) is replaced by a fresh one and the request sent once more.
func (c *Client) Do(raw []byte, deadline time.Time, keepBody bool, resp *Response) error {
	if c.slots != nil {
		if err := c.acquire(deadline); err != nil {
			return err
		}
		defer func() { <-c.slots }()
	}
	head := len(raw) >= 5 && string(raw[:5]) == "HEAD "
	fresh := false
	for {
		cn, reused, err := c.get(deadline, fresh)
		if err != nil {
			return classify(err)
		}
		if err := cn.nc.SetDeadline(deadline); err != nil {
			cn.close()
			return classify(err)
		}
		if _, err := cn.rw.Write(raw); err != nil {
			cn.close()
			if reused && isStale(err) {
				fresh = true
				continue
			}
			return classify(err)
		}
		keep, started, err := cn.p.read(head, keepBody, resp)
		if err != nil {
			cn.close()
			if reused && !started && isStale(err) {
				fresh = true
				continue
			}
			if err == errNoResponse {
				err = &noResponseError{}
			}
			return classify(err)
		}
		// Bytes beyond the response mean the server and we disagree on
		// framing: the connection cannot carry another request.
		if keep && cn.p.br.Buffered() == 0 {
			c.put(cn)
		} else {
			cn.close()
		}
		return nil
	}
}

// acquire waits for a request slot until deadline.
func (c *Client) acquire(deadline time.Time) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}
	if deadline.IsZero() {
		c.slots <- struct{}{}
		return nil
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrTimeout
	}
}

// get pops the most recently used idle connection or dials a new one.
func (c *Client) get(deadline time.Time, fresh bool) (cn *conn, reused bool, err error) {
	if !fresh {
		c.mu.Lock()
		if n := len(c.idle); n > 0 {
			cn = c.idle[n-1]
			c.idle[n-1] = nil
			c.idle = c.idle[:n-1]
		}
		c.mu.Unlock()
		if cn != nil {
			return cn, true, nil
		}
	}
	d := c.dialer
	d.Deadline = deadline
	nc, err := d.Dial("tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	rw := newRawIO(nc)
	return &conn{nc: nc, rw: rw, p: parser{br: bufio.NewReaderSize(rw, c.o.ReadBufferSize), max: c.o.MaxResponseBytes, maxHeader: c.o.MaxHeaderBytes, maxFields: c.o.MaxHeaderFields}}, false, nil
}

func (c *Client) put(cn *conn) {
	c.mu.Lock()
	c.idle = append(c.idle, cn)
	c.mu.Unlock()
}

// CloseIdle closes the connections not carrying a request.
func (c *Client) CloseIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.close()
	}
}

func (cn *conn) close() { _ = cn.nc.Close() }

// isStale reports the errors of a connection the server closed while it
// sat idle in the pool.
func isStale(err error) bool {
	return err == errNoResponse || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, io.EOF)
}

// noResponseError is a connection that ended before any response byte.
type noResponseError struct{}

func (*noResponseError) Error() string {
	return "h1: server closed the connection without a response: unexpected EOF"
}
func (*noResponseError) Unwrap() error { return io.ErrUnexpectedEOF }

// classify maps deadline errors to ErrTimeout and keeps the others as they
// are: the net.OpError chain lets errors.Is find the syscall.Errno.
func classify(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	return err
}
