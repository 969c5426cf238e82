// Package testgrpc serves gRPC for tests: a truth server of k slots held
// for a known service time (capacity k/S), on loopback, with server
// reflection when asked; and grpc-go's own example servers, built from
// the module in ./examples.
package testgrpc

import (
	"context"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Dir is this package's directory (its testdata and examples module).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// ProtoDir holds predict.proto and helloworld.proto.
func ProtoDir() string { return filepath.Join(Dir(), "testdata") }

// Options shape a truth server.
type Options struct {
	// Slots calls are served at once; the rest wait in FIFO order.
	Slots int
	// Service is how long a call holds its slot, ± Jitter uniformly.
	Service, Jitter time.Duration
	// Reflection serves grpc.reflection.v1 (and v1alpha).
	Reflection bool
	// MaxStreams is SETTINGS_MAX_CONCURRENT_STREAMS (0: grpc-go's default).
	MaxStreams uint32
	// Every StallEvery from its start, the server stops serving for
	// StallFor: a call that arrives then waits for the stall's end, as
	// behind a GC pause or a stuck dependency.
	StallEvery, StallFor time.Duration
	// Watch, the server-streaming method, answers with WatchEvents
	// messages (the query, again): the first WatchFirst after the call
	// arrives, then one every WatchEvery, each at its own time from the
	// arrival.
	WatchFirst, WatchEvery time.Duration
	WatchEvents            int
}

// Server is a running truth server.
type Server struct {
	Addr   string
	Served atomic.Int64
	srv    *grpc.Server
	slots  chan struct{}
	o      Options
	mu     sync.Mutex
	rng    *rand.Rand
	start  time.Time
}

// Files compiles predict.proto with its imports into a registry.
func Files(tb testing.TB) *protoregistry.Files {
	tb.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{ProtoDir()}})}
	linked, err := c.Compile(context.Background(), "predict.proto")
	if err != nil {
		tb.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(linked[0])
	files, err := protodesc.NewFiles(set)
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// Start serves the truth server on a loopback port until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Slots <= 0 {
		o.Slots = 1
	}
	files := Files(tb)
	d, err := files.FindDescriptorByName("bestbefore.test.Predictor")
	if err != nil {
		tb.Fatal(err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	query := sd.Methods().ByName("Predict").Input()
	s := &Server{o: o, slots: make(chan struct{}, o.Slots), rng: rand.New(rand.NewPCG(1, 2)), start: time.Now()}
	var opts []grpc.ServerOption
	if o.MaxStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(o.MaxStreams))
	}
	s.srv = grpc.NewServer(opts...)
	unary := func(h func(ctx context.Context, in *dynamicpb.Message) (any, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
		return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := dynamicpb.NewMessage(query)
			if err := dec(in); err != nil {
				return nil, err
			}
			return h(ctx, in)
		}
	}
	s.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: string(sd.FullName()),
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Predict", Handler: unary(s.predict)},
			{MethodName: "Fail", Handler: unary(func(ctx context.Context, _ *dynamicpb.Message) (any, error) {
				md, _ := metadata.FromIncomingContext(ctx)
				code := codes.Unavailable
				if v := md.Get("x-code"); len(v) > 0 {
					if n, err := strconv.Atoi(v[0]); err == nil {
						code = codes.Code(n)
					}
				}
				return nil, status.Error(code, "failed as asked")
			})},
		},
		Streams: []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			arrived := time.Now()
			if s.o.WatchEvents <= 0 {
				return status.Error(codes.Unimplemented, "not served: no WatchEvents")
			}
			in := dynamicpb.NewMessage(query)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			for i := 0; i < s.o.WatchEvents; i++ {
				t := time.NewTimer(time.Until(arrived.Add(s.o.WatchFirst + time.Duration(i)*s.o.WatchEvery)))
				select {
				case <-t.C:
				case <-ss.Context().Done():
					t.Stop()
					return status.FromContextError(ss.Context().Err()).Err()
				}
				if err := ss.SendMsg(in); err != nil {
					return err
				}
			}
			return nil
		}}},
		Metadata: "predict.proto",
	}, struct{}{})
	if o.Reflection {
		rs := reflection.NewServerV1(reflection.ServerOptions{Services: s.srv, DescriptorResolver: files})
		rpb.RegisterServerReflectionServer(s.srv, rs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	tb.Cleanup(s.srv.Stop)
	return s
}

// URL is the server's grpc:// URL.
func (s *Server) URL() string { return "grpc://" + s.Addr }

// Capacity is the analytic capacity k/E[S], in calls per second.
func (s *Server) Capacity() float64 {
	return float64(s.o.Slots) / s.o.Service.Seconds()
}

func (s *Server) predict(ctx context.Context, in *dynamicpb.Message) (any, error) {
	if s.o.StallEvery > 0 {
		if phase := time.Since(s.start) % s.o.StallEvery; phase < s.o.StallFor {
			time.Sleep(s.o.StallFor - phase)
		}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	defer func() { <-s.slots }()
	svc := s.o.Service
	if s.o.Jitter > 0 {
		s.mu.Lock()
		svc += time.Duration((s.rng.Float64()*2 - 1) * float64(s.o.Jitter))
		s.mu.Unlock()
	}
	time.Sleep(svc)
	s.Served.Add(1)
	return in, nil
}
