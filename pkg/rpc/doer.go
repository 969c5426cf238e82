package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// DefaultStreams is how many calls one connection carries at most before
// the next connection is opened: 100 is what most servers allow on one
// HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS), so a call never
// waits in the client for a stream the server would refuse.
const DefaultStreams = 100

// Setup is what a run's gRPC targets share: their descriptors and how
// calls are spread over connections. It is attack.DoerOptions.Setup.
type Setup struct {
	Schema *Schema
	// Connections, when above 0, is a fixed number of connections per
	// target, used in turn. At 0, connections are opened as the calls in
	// flight need them, Streams calls each.
	Connections int
	// Streams is the most calls in flight on one connection before the
	// next is used (default DefaultStreams).
	Streams int
}

func init() {
	attack.Register("grpc", newDoer)
	attack.Register("grpcs", newDoer)
}

// Doer makes unary calls to one target.
type Doer struct {
	schema  *Schema
	conns   []*grpc.ClientConn
	load    []atomic.Int32
	fixed   bool
	streams int32
	next    atomic.Uint32
	maxRecv int
}

var _ attack.Preparer = (*Doer)(nil)

func newDoer(base *url.URL, o attack.DoerOptions) (attack.Doer, error) {
	set, _ := o.Setup.(*Setup)
	if set == nil || set.Schema == nil {
		return nil, fmt.Errorf("%s: gRPC needs its descriptors loaded before the run", base.Redacted())
	}
	streams := set.Streams
	if streams <= 0 {
		streams = DefaultStreams
	}
	n := set.Connections
	if n <= 0 {
		maxCalls := o.MaxConns
		if maxCalls <= 0 {
			maxCalls = 10000
		}
		n = (maxCalls + streams - 1) / streams
	}
	maxRecv := int(o.MaxResponseBytes)
	if maxRecv <= 0 {
		maxRecv = 10 << 20
	}
	d := &Doer{schema: set.Schema, fixed: set.Connections > 0, streams: int32(streams), maxRecv: maxRecv}
	d.conns = make([]*grpc.ClientConn, n)
	d.load = make([]atomic.Int32, n)
	for i := range d.conns {
		cc, err := dial(base, o)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.conns[i] = cc
	}
	return d, nil
}

// dial makes a client connection (lazy: it connects on the first call)
// through the guarded dialer, in TLS for grpcs://.
func dial(base *url.URL, o attack.DoerOptions) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if base.Scheme == "grpcs" {
		creds = credentials.NewTLS(&tls.Config{RootCAs: o.RootCAs, ServerName: base.Hostname(), MinVersion: tls.VersionTLS12})
	}
	guard := o.Guard
	addr := net.JoinHostPort(base.Hostname(), h1.Port(base))
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return guard.DialContext(ctx, "tcp", a, h1.DefaultDialTimeout)
		}),
		grpc.WithMaxHeaderListSize(uint32(h1.DefaultMaxHeaderBytes)),
		grpc.WithUserAgent("bestbefore"),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", base.Redacted(), err)
	}
	return cc, nil
}

// call is what Prepare keeps of a traffic line beside its encoded
// message (attack.Prepared.Call).
type call struct {
	method string
	out    protoreflect.MessageDescriptor
	md     metadata.MD
	// stream is set for a server-streaming method: its answer is a
	// stream of messages, each timed as an output event.
	stream bool
}

// headers a traffic line may carry that are HTTP's, not metadata.
var notMetadata = map[string]bool{"content-type": true, "content-length": true, "host": true, "connection": true, "te": true, "user-agent": true, "accept-encoding": true, "transfer-encoding": true, "keep-alive": true, "upgrade": true}

// Prepare encodes a traffic line: its path names the method
// (/package.Service/Method), its body is the request message in
// protobuf JSON, its headers are sent as metadata.
func (d *Doer) Prepare(req *traffic.Request, base *url.URL, extra http.Header) (*attack.Prepared, error) {
	p, err := d.schema.prepare(req, extra)
	if err != nil {
		return nil, fmt.Errorf("traffic line %d for %s: %w", req.Line, base.Redacted(), err)
	}
	return p, nil
}

// prepare is Prepare without the target; the preflight checks every
// traffic line with it before a call is made.
func (s *Schema) prepare(req *traffic.Request, extra http.Header) (*attack.Prepared, error) {
	if m := req.Method; m != "" && m != http.MethodPost {
		return nil, fmt.Errorf("method %s: a gRPC call is a POST (leave method out)", m)
	}
	md, path, err := s.Method(req.Path)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	raw, err := s.Encode(md.Input(), req.BodyBytes())
	if err != nil {
		return nil, err
	}
	c := &call{method: path, out: md.Output(), stream: md.IsStreamingServer()}
	for hi, h := range []http.Header{req.Header, extra} {
		for k, vs := range h {
			k = strings.ToLower(k)
			if notMetadata[k] || strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") {
				continue
			}
			if c.md == nil {
				c.md = metadata.MD{}
			}
			if _, set := c.md[k]; set && hi == 1 {
				continue // the line's own value wins
			}
			c.md[k] = append([]string(nil), vs...)
		}
	}
	return &attack.Prepared{Raw: raw, Method: http.MethodPost, Line: req.Line, Status: req.Status, Call: c}, nil
}

// Check prepares req as a run would, for the preflight: the method must
// exist and be unary, the body must be its input message.
func (s *Schema) Check(req *traffic.Request, extra http.Header) error {
	_, err := s.prepare(req, extra)
	return err
}

// Frame is a message already in wire bytes: Codec passes it as it is.
type Frame struct{ B []byte }

// Codec sends and receives Frames: messages are encoded once, before the
// run, and decoded only when a check reads them. Its name is "proto", so
// the content type is gRPC's usual one.
type Codec struct{}

// Name implements encoding.Codec.
func (Codec) Name() string { return "proto" }

// Marshal implements encoding.Codec.
func (Codec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*Frame)
	if !ok {
		return nil, fmt.Errorf("rpc: cannot send a %T", v)
	}
	return f.B, nil
}

// Unmarshal implements encoding.Codec; the bytes are copied (gRPC reuses
// its buffer).
func (Codec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*Frame)
	if !ok {
		return fmt.Errorf("rpc: cannot read into a %T", v)
	}
	f.B = append(f.B[:0], data...)
	return nil
}

// scratch is a Response's reusable state for gRPC.
type scratch struct {
	in, out Frame
	header  metadata.MD
	opts    []grpc.CallOption
}

func (sc *scratch) headerValue(name string) (string, bool) {
	v := sc.header.Get(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// pick chooses the connection for the next call: in turn over a fixed
// number, else the first that has a stream free.
func (d *Doer) pick() int {
	if d.fixed {
		return int(d.next.Add(1)-1) % len(d.conns)
	}
	best := 0
	for i := range d.load {
		l := d.load[i].Load()
		if l < d.streams {
			return i
		}
		if l < d.load[best].Load() {
			best = i
		}
	}
	return best
}

// Do implements attack.Doer: one unary call, answered before deadline.
// A status other than OK is the response's Code, counted in its own
// error class; the call's own deadline passing is a timeout, a message
// above the bound is response_too_large, as for HTTP.
func (d *Doer) Do(p *attack.Prepared, deadline time.Time, keepBody bool, resp *attack.Response) error {
	c, _ := p.Call.(*call)
	if c == nil {
		return errors.New("rpc: the request was not prepared for gRPC")
	}
	sc, _ := resp.Scratch().(*scratch)
	if sc == nil {
		sc = &scratch{}
		sc.opts = []grpc.CallOption{grpc.ForceCodec(Codec{}), grpc.Header(&sc.header), grpc.MaxCallRecvMsgSize(d.maxRecv)}
		resp.SetScratch(sc)
		resp.Header = sc.headerValue
	}
	resp.Status, resp.Code, resp.Message, resp.Body, resp.BodyLen = 0, 0, "", nil, 0
	sc.header = nil
	i := d.pick()
	d.load[i].Add(1)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	if c.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, c.md)
	}
	sc.in.B = p.Raw
	var err error
	if c.stream {
		err = d.stream(ctx, d.conns[i], c, sc, resp)
	} else {
		err = d.conns[i].Invoke(ctx, c.method, &sc.in, &sc.out, sc.opts...)
	}
	cancel()
	d.load[i].Add(-1)
	if err != nil {
		st := status.Convert(err)
		switch code := st.Code(); {
		case code == codes.DeadlineExceeded && !time.Now().Before(deadline):
			return errors.Join(attack.ErrTimeout, err)
		case code == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max"):
			return errors.Join(attack.ErrTooLarge, err)
		case code == codes.OK:
			return err
		case code > 16:
			resp.Code, resp.Message = int(codes.Unknown), fmt.Sprintf("code %d: %s", code, st.Message())
		default:
			resp.Code, resp.Message = int(code), st.Message()
		}
		resp.Status = http.StatusOK
		return nil
	}
	resp.Status = http.StatusOK
	resp.BodyLen = int64(len(sc.out.B))
	if keepBody {
		js, err := d.schema.Decode(c.out, sc.out.B)
		if err != nil {
			return fmt.Errorf("rpc: the response is not a %s: %v", c.out.FullName(), err)
		}
		resp.Body = js
	}
	return nil
}

// streamDesc describes a server-streaming call.
var streamDesc = &grpc.StreamDesc{ServerStreams: true}

// stream makes a server-streaming call: the request message, then every
// message of the answer, each an output event of the response (time to
// first token, between tokens), the last kept in sc.out. Only the last
// message is held: a stream's memory does not grow with its length.
func (d *Doer) stream(ctx context.Context, cc *grpc.ClientConn, c *call, sc *scratch, resp *attack.Response) error {
	cs, err := cc.NewStream(ctx, streamDesc, c.method, sc.opts...)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(&sc.in); err != nil && err != io.EOF {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	timed := resp.BeginStream()
	for {
		err := cs.RecvMsg(&sc.out)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if timed {
			resp.Event()
		}
	}
}

// CloseIdle is called between steps; gRPC connections are kept.
func (d *Doer) CloseIdle() {}

// Close closes every connection.
func (d *Doer) Close() error {
	for _, cc := range d.conns {
		if cc != nil {
			cc.Close()
		}
	}
	return nil
}
