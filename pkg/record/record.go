// Package record is a recording reverse proxy: it forwards every request
// and its response unchanged to an upstream and appends each request, with
// its secrets redacted, to a traffic file.
//
// Recording never holds up the proxied traffic for long and never grows
// memory with the load: requests go through a bounded queue (by count and
// by bytes) to one writer goroutine, and when the writer falls behind the
// recordings that do not fit are dropped and counted.
package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Defaults of Options.
const (
	DefaultMaxBody       = 1 << 20
	DefaultQueueLen      = 4096
	DefaultQueueBytes    = 64 << 20
	DefaultFlushInterval = time.Second
	// DefaultUpstreamTimeout bounds the wait for an upstream's response.
	DefaultUpstreamTimeout = 30 * time.Second
)

// Options configure a Recorder.
type Options struct {
	// Upstream is the base URL requests are forwarded to (required).
	Upstream *url.URL
	// Out receives the traffic lines, gzip-compressed when Gzip is set;
	// the Recorder closes it.
	Out  io.WriteCloser
	Gzip bool
	// Redactor removes secrets; nil records requests as they are (only
	// with an explicit --no-redact).
	Redactor *traffic.Redactor
	// Sample is the fraction of requests recorded, in (0, 1]; 0 means 1.
	Sample float64
	// Seed makes sampling reproducible.
	Seed uint64
	// MaxBody caps the stored body; a longer one is stored truncated with
	// "truncated": true. 0 means DefaultMaxBody; negative stores no body.
	MaxBody int
	// QueueLen and QueueBytes bound the recordings waiting for the writer.
	QueueLen   int
	QueueBytes int64
	// FlushInterval is how often buffered lines reach the file.
	FlushInterval time.Duration
	// Transport forwards the requests; nil means a transport through
	// Guard that never compresses on its own (see New).
	Transport http.RoundTripper
	// Guard checks every upstream address dialed (zero value: loopback
	// and private addresses only).
	Guard h1.Guard
	// UpstreamTimeout bounds the wait for the upstream's response header;
	// past it the client gets 504. 0 means DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
	// Now returns the time stamped on each request; nil means time.Now.
	Now func() time.Time
}

// Stats are the counters of a Recorder.
type Stats struct {
	Seen      int64 // requests proxied
	Recorded  int64 // requests written to the file
	Skipped   int64 // left out by sampling
	Dropped   int64 // not recorded because the writer fell behind (or failed)
	Truncated int64 // bodies stored truncated
	Withheld  int64 // bodies dropped because they could not be redacted
	Bytes     int64 // bytes written to the file (compressed when gzip)
}

// Recorder is an http.Handler that proxies and records.
type Recorder struct {
	opts  Options
	proxy *httputil.ReverseProxy

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *item
	qbytes atomic.Int64
	done   chan struct{}
	err    error // first write error, read after done

	rngMu sync.Mutex
	rng   *rand.Rand

	out                                                   *traffic.Writer
	file                                                  *countingWriter
	seen, recorded, skipped, dropped, truncated, withheld atomic.Int64
}

type item struct {
	req  *traffic.Request
	size int64
}

// New starts a Recorder writing to opts.Out.
func New(opts Options) (*Recorder, error) {
	if opts.Upstream == nil || opts.Upstream.Host == "" || (opts.Upstream.Scheme != "http" && opts.Upstream.Scheme != "https") {
		return nil, errors.New("record: upstream must be an http:// or https:// URL with a host")
	}
	if opts.Out == nil {
		return nil, errors.New("record: no output")
	}
	if opts.Sample < 0 || opts.Sample > 1 {
		return nil, fmt.Errorf("record: sample %v is not a fraction in (0, 1]", opts.Sample)
	}
	if opts.Sample == 0 {
		opts.Sample = 1
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if opts.Transport == nil {
		// The client's request goes upstream as it came: no
		// Accept-Encoding added, no body decompressed, so the client sees
		// the upstream's own Content-Length, ETag and Accept-Ranges.
		tr := opts.Guard.Transport(min(opts.UpstreamTimeout, h1.DefaultDialTimeout))
		tr.DisableCompression = true
		tr.ResponseHeaderTimeout = opts.UpstreamTimeout
		tr.MaxIdleConnsPerHost = 256
		opts.Transport = tr
	}
	r := &Recorder{
		opts:  opts,
		queue: make(chan *item, opts.QueueLen),
		done:  make(chan struct{}),
		rng:   rand.New(rand.NewPCG(opts.Seed, 0x5851f42d4c957f2d)),
		file:  &countingWriter{w: opts.Out},
	}
	if fi, err := r.file.Stat(); err == nil {
		r.file.base = fi.Size()
	}
	r.out = traffic.NewWriter(r.file, opts.Gzip)
	up := opts.Upstream
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			// SetURL rewrites Host to the upstream's; keep the
			// client's query exactly as sent.
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			// Rewrite strips the X-Forwarded-* fields; a proxy keeps
			// what the client sent and appends the client's address to
			// X-Forwarded-For.
			for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v
				}
			}
			xff := pr.In.Header["X-Forwarded-For"]
			if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				if len(xff) > 0 {
					pr.Out.Header.Set("X-Forwarded-For", strings.Join(xff, ", ")+", "+ip)
				} else {
					pr.Out.Header.Set("X-Forwarded-For", ip)
				}
			} else if len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
		},
		Transport:     opts.Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			status := http.StatusBadGateway
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			http.Error(w, "bestbefore record: upstream: "+err.Error(), status)
		},
	}
	go r.writeLoop()
	return r, nil
}

// ServeHTTP forwards req upstream and queues it for recording.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := r.opts.Now()
	r.seen.Add(1)
	if !r.sampled() {
		r.skipped.Add(1)
		r.proxy.ServeHTTP(w, req)
		return
	}
	rec := &traffic.Request{TS: now.UTC(), Method: req.Method, Path: req.URL.RequestURI(), Header: recordedHeader(req.Header)}
	if req.Body != nil && req.Body != http.NoBody {
		if r.opts.MaxBody < 0 {
			rec.Truncated = req.ContentLength != 0
		} else {
			// Read the first MaxBody+1 bytes before forwarding, so the
			// stored body does not depend on how much of it the upstream
			// reads; the rest streams through untouched.
			head, err := io.ReadAll(io.LimitReader(req.Body, int64(r.opts.MaxBody)+1))
			if err != nil {
				r.dropped.Add(1)
				http.Error(w, "bestbefore record: reading request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			req.Body = &prefixBody{Reader: io.MultiReader(bytes.NewReader(head), req.Body), c: req.Body}
			if len(head) > r.opts.MaxBody {
				head = head[:r.opts.MaxBody]
				rec.Truncated = true
			}
			rec.SetBody(head)
		}
	}
	if st := r.opts.Redactor.Apply(rec); st.BodyWithheld {
		r.withheld.Add(1)
	}
	if rec.Truncated {
		r.truncated.Add(1)
	}
	// Queue before forwarding: the file keeps arrival order, and a
	// request is recorded even when the upstream fails.
	r.enqueue(rec)
	r.proxy.ServeHTTP(w, req)
}

func (r *Recorder) sampled() bool {
	if r.opts.Sample >= 1 {
		return true
	}
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.Float64() < r.opts.Sample
}

// hopHeaders are connection-level headers a proxy does not forward, and
// Content-Length, which replay computes from the body.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
}

func recordedHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range hopHeaders {
		out.Del(k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (r *Recorder) enqueue(rec *traffic.Request) {
	size := int64(len(rec.Path) + len(rec.Body) + len(rec.BodyBase64) + 128)
	for k, vs := range rec.Header {
		size += int64(len(k))
		for _, v := range vs {
			size += int64(len(v))
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	if r.qbytes.Add(size) > r.opts.QueueBytes {
		r.qbytes.Add(-size)
		r.dropped.Add(1)
		return
	}
	select {
	case r.queue <- &item{req: rec, size: size}:
	default:
		r.qbytes.Add(-size)
		r.dropped.Add(1)
	}
}

func (r *Recorder) writeLoop() {
	defer close(r.done)
	tick := time.NewTicker(r.opts.FlushInterval)
	defer tick.Stop()
	// A line counts as recorded once it is in the file: the writer puts
	// whole lines there or none, so the count is what the file holds.
	settle := func(err error) {
		r.recorded.Store(r.out.Lines())
		if err != nil && r.err == nil {
			r.err = err
			r.dropped.Add(int64(r.out.Pending()))
		}
	}
	for {
		select {
		case it, ok := <-r.queue:
			if !ok {
				settle(r.out.Close())
				return
			}
			r.qbytes.Add(-it.size)
			if r.err != nil {
				r.dropped.Add(1)
				continue
			}
			if err := r.out.Write(it.req); err != nil {
				settle(err)
				continue
			}
			settle(nil)
		case <-tick.C:
			if r.err == nil {
				settle(r.out.Flush())
			}
		}
	}
}

// Close stops recording, writes what is queued, and closes the file (with
// its gzip trailer). Requests still in flight are proxied but not recorded.
// It returns the first write error.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	<-r.done
	return r.err
}

// Stats returns the counters so far.
func (r *Recorder) Stats() Stats {
	return Stats{
		Seen: r.seen.Load(), Recorded: r.recorded.Load(), Skipped: r.skipped.Load(),
		Dropped: r.dropped.Load(), Truncated: r.truncated.Load(), Withheld: r.withheld.Load(),
		Bytes: r.file.n.Load(),
	}
}

// prefixBody forwards the bytes already read followed by the rest.
type prefixBody struct {
	io.Reader
	c io.Closer
}

func (b *prefixBody) Close() error { return b.c.Close() }

// countingWriter counts the bytes that reach the file.
type countingWriter struct {
	w    io.WriteCloser
	n    atomic.Int64
	base int64 // the file's size when recording started
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

// Stat and Truncate reach the file, so a failed write is cut back to a
// whole line (see traffic.Writer).
func (c *countingWriter) Stat() (os.FileInfo, error) {
	if f, ok := c.w.(interface{ Stat() (os.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, errors.ErrUnsupported
}

func (c *countingWriter) Truncate(size int64) error {
	f, ok := c.w.(interface{ Truncate(int64) error })
	if !ok {
		return errors.ErrUnsupported
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	c.n.Store(size - c.base)
	return nil
}
