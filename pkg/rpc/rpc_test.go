package rpc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testgrpc"
	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/rpc"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func base(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := h1.ParseBase(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// call prepares req for the target and makes one call.
func call(t *testing.T, schema *rpc.Schema, u *url.URL, req *traffic.Request, timeout time.Duration, keepBody bool, maxBytes int64) (*attack.Response, error) {
	t.Helper()
	d, err := attack.NewDoer(u, attack.DoerOptions{Setup: &rpc.Setup{Schema: schema}, MaxResponseBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.(*rpc.Doer).Close() })
	p, err := d.(attack.Preparer).Prepare(req, u, http.Header{"X-Team": {"search"}})
	if err != nil {
		t.Fatal(err)
	}
	resp := &attack.Response{}
	err = d.Do(p, time.Now().Add(timeout), keepBody, resp)
	return resp, err
}

func helloworld(t *testing.T) *rpc.Schema {
	t.Helper()
	s, err := rpc.Load(context.Background(), rpc.Source{Protos: []string{"helloworld.proto"}, ImportPaths: []string{testgrpc.ProtoDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// grpc-go's own greeter answers a call made from a .proto file compiled
// here, and the response is read as protobuf JSON for the checks.
func TestCallsGRPCGoGreeter(t *testing.T) {
	addr := testgrpc.Example(t, "greeter")
	schema := helloworld(t)
	resp, err := call(t, schema, base(t, "grpc://"+addr), &traffic.Request{Path: "/helloworld.Greeter/SayHello", Body: `{"name":"bestbefore"}`, Line: 1}, 5*time.Second, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != 0 || resp.Status != 200 {
		t.Fatalf("code %d status %d: %s", resp.Code, resp.Status, resp.Message)
	}
	if got := string(resp.Body); !strings.Contains(got, `"message":"Hello bestbefore"`) {
		t.Fatalf("body %s, want the greeter's message", got)
	}
}

// The reflection example offers its services by reflection: the schema
// read from it holds both, with their imports.
func TestReflectionOfGRPCGoExample(t *testing.T) {
	addr := testgrpc.Example(t, "reflection")
	s, err := rpc.Reflect(context.Background(), base(t, "grpc://"+addr), attack.DoerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Methods(), " ")
	for _, m := range []string{"/helloworld.Greeter/SayHello", "/grpc.examples.echo.Echo/UnaryEcho"} {
		if !strings.Contains(got, m) {
			t.Errorf("reflection found %s, want %s among them", got, m)
		}
	}
	if _, _, err := s.Method("grpc.examples.echo.Echo/BidirectionalStreamingEcho"); err == nil || !strings.Contains(err.Error(), "client-streaming") {
		t.Errorf("a streaming method: %v, want it refused as streaming", err)
	}
	resp, err := call(t, s, base(t, "grpc://"+addr), &traffic.Request{Path: "grpc.examples.echo.Echo.UnaryEcho", Body: `{"message":"ping"}`}, 5*time.Second, true, 0)
	if err != nil || !strings.Contains(string(resp.Body), `"message":"ping"`) {
		t.Fatalf("echo: %v %s", err, resp.Body)
	}
	// The greeter without reflection says so.
	plain := testgrpc.Example(t, "greeter")
	if _, err := rpc.Reflect(context.Background(), base(t, "grpc://"+plain), attack.DoerOptions{}); !errors.Is(err, rpc.ErrNoReflection) {
		t.Fatalf("reflection of a server without it: %v", err)
	}
}

// A protoset written by the real protoc serves as well as the .proto.
func TestProtosetFromProtoc(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is not installed (.ci/run installs protobuf-compiler)")
		}
		t.Skip("protoc is not installed")
	}
	set := filepath.Join(t.TempDir(), "hello.protoset")
	out, err := exec.Command(protoc, "--descriptor_set_out="+set, "--include_imports", "-I", testgrpc.ProtoDir(), "helloworld.proto", "predict.proto").CombinedOutput()
	if err != nil {
		t.Fatalf("protoc: %v: %s", err, out)
	}
	s, err := rpc.Load(context.Background(), rpc.Source{Protoset: set})
	if err != nil {
		t.Fatal(err)
	}
	addr := testgrpc.Example(t, "greeter")
	resp, err := call(t, s, base(t, "grpc://"+addr), &traffic.Request{Path: "helloworld.Greeter/SayHello", Body: `{"name":"set"}`}, 5*time.Second, true, 0)
	if err != nil || !strings.Contains(string(resp.Body), "Hello set") {
		t.Fatalf("%v %s", err, resp.Body)
	}
	// A .proto file is not a protoset.
	if _, err := rpc.Load(context.Background(), rpc.Source{Protoset: filepath.Join(testgrpc.ProtoDir(), "helloworld.proto")}); err == nil || !strings.Contains(err.Error(), "not a protoset") {
		t.Fatalf("a .proto as protoset: %v", err)
	}
}

// Bad traffic is refused at preparation with what is wrong.
func TestPrepareRefusesWhatCannotBeSent(t *testing.T) {
	s := helloworld(t)
	for _, c := range []struct {
		req  traffic.Request
		want string
	}{
		{traffic.Request{Path: "/helloworld.Greeter/SayBye"}, "no method /helloworld.Greeter/SayBye"},
		{traffic.Request{Path: "/helloworld.Greeter/SayHello", Body: `{"nom":"x"}`}, `unknown field "nom"`},
		{traffic.Request{Path: "/helloworld.Greeter/SayHello", Body: `{"name":3}`}, "helloworld.HelloRequest"},
		{traffic.Request{Method: "GET", Path: "/helloworld.Greeter/SayHello"}, "a gRPC call is a POST"},
	} {
		err := s.Check(&c.req, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
	if err := s.Check(&traffic.Request{Path: "/helloworld.Greeter/SayHello"}, nil); err != nil {
		t.Errorf("an empty body is the empty message: %v", err)
	}
	if _, err := rpc.Load(context.Background(), rpc.Source{Protos: []string{"missing.proto"}, ImportPaths: []string{testgrpc.ProtoDir()}}); err == nil {
		t.Error("a missing .proto loaded")
	}
}

// Status codes are the response's Code (each its own error class), the
// line's headers and the target's are metadata, the call's own deadline
// is a timeout and a message over the bound is response_too_large.
func TestOutcomes(t *testing.T) {
	srv := testgrpc.Start(t, testgrpc.Options{Slots: 1, Service: 150 * time.Millisecond})
	s, err := rpc.Load(context.Background(), rpc.Source{Protos: []string{"predict.proto"}, ImportPaths: []string{testgrpc.ProtoDir()}})
	if err != nil {
		t.Fatal(err)
	}
	u := base(t, srv.URL())
	for code, class := range map[string]string{"14": "grpc_unavailable", "4": "grpc_deadline_exceeded", "8": "grpc_resource_exhausted"} {
		resp, err := call(t, s, u, &traffic.Request{Path: "/bestbefore.test.Predictor/Fail", Header: http.Header{"X-Code": {code}}}, 5*time.Second, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Code == 0 || result.GRPCClasses[resp.Code] != class || resp.Message != "failed as asked" {
			t.Errorf("x-code %s: code %d (%q), want class %s", code, resp.Code, resp.Message, class)
		}
	}
	q := &traffic.Request{Path: "/bestbefore.test.Predictor/Predict", Body: `{"user":"u1","features":[0.5,1.5],"context":{"page":"home"}}`}
	if _, err := call(t, s, u, q, 30*time.Millisecond, false, 0); !errors.Is(err, attack.ErrTimeout) {
		t.Errorf("a call past its deadline: %v, want a timeout", err)
	}
	if _, err := call(t, s, u, q, 5*time.Second, false, 8); !errors.Is(err, attack.ErrTooLarge) {
		t.Errorf("a response over 8 bytes: %v, want response_too_large", err)
	}
	resp, err := call(t, s, u, q, 5*time.Second, true, 0)
	if err != nil || resp.Code != 0 || !strings.Contains(string(resp.Body), `"page":"home"`) {
		t.Fatalf("predict: %v code %d %s", err, resp.Code, resp.Body)
	}
}

// Every connection goes through the guard: a public address is refused
// before a packet is sent, unless allowed.
func TestGuardRefusesPublicTargets(t *testing.T) {
	s := helloworld(t)
	u := base(t, "grpc://192.0.2.10:50051") // TEST-NET-1: never reached
	d, err := attack.NewDoer(u, attack.DoerOptions{Setup: &rpc.Setup{Schema: s}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.(*rpc.Doer).Close()
	p, err := d.(attack.Preparer).Prepare(&traffic.Request{Path: "/helloworld.Greeter/SayHello"}, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := &attack.Response{}
	err = d.Do(p, time.Now().Add(2*time.Second), false, resp)
	if err != nil || resp.Code != 14 || !strings.Contains(resp.Message, "allow-public") {
		t.Fatalf("a public target: err %v, code %d %q; want UNAVAILABLE naming --allow-public", err, resp.Code, resp.Message)
	}
}

// A server-streaming method is a stream: each message of its answer is
// an output event, timed as it comes. The truth server answers Watch
// with ten messages, the first 20 ms after the call and then one every
// 10 ms: the step's time to first token and between tokens are those,
// within 3 ms at the p50 (the server runs in this process on Go's
// timers, which wake up to a millisecond late, more on a loaded machine:
// the HTTP truth server in pkg/attack holds the 1 ms bound), its tokens
// the messages. Timed at the answer's end instead, the first token would
// be at 110 ms. A client-streaming method is still refused, by name.
func TestServerStreamingIsTimedAsAStream(t *testing.T) {
	srv := testgrpc.Start(t, testgrpc.Options{Slots: 1, Service: time.Millisecond, WatchFirst: 20 * time.Millisecond, WatchEvery: 10 * time.Millisecond, WatchEvents: 10})
	s, err := rpc.Load(context.Background(), rpc.Source{Protos: []string{"predict.proto"}, ImportPaths: []string{testgrpc.ProtoDir()}})
	if err != nil {
		t.Fatal(err)
	}
	u := base(t, srv.URL())
	d, err := attack.NewDoer(u, attack.DoerOptions{Setup: &rpc.Setup{Schema: s}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.(*rpc.Doer).Close()
	p, err := d.(attack.Preparer).Prepare(&traffic.Request{Path: "/bestbefore.test.Predictor/Watch", Body: `{"user":"u1"}`}, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := attack.New(attack.Options{Targets: []attack.Target{{Base: u, Doer: d}}, Timeout: 5 * time.Second})
	defer a.Close()
	const n, gap = 60, 20 * time.Millisecond
	st, err := a.Step(context.Background(), &feed{n: n, gap: gap, p: p}, attack.StepSpec{Rate: 50, Duration: (n + 1) * gap})
	if err != nil {
		t.Fatal(err)
	}
	x := st.Stream
	if x == nil || st.Successes != n || x.Responses != n || x.Tokens != 10*n || x.UsageResponses != 0 {
		t.Fatalf("%d successes, stream %+v, errors %v", st.Successes, x, st.Errors)
	}
	at := func(h interface{ ValueAtQuantile(float64) int64 }, q float64) time.Duration {
		return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
	}
	for _, m := range []struct {
		what string
		got  time.Duration
		want time.Duration
	}{{"TTFT p50", at(x.TTFT, 50), 20 * time.Millisecond}, {"ITL p50", at(x.ITL, 50), 10 * time.Millisecond}} {
		t.Logf("%s %v (scheduled %v)", m.what, m.got, m.want)
		if m.got < m.want-time.Millisecond || m.got > m.want+3*time.Millisecond {
			t.Errorf("%s %v, scheduled %v", m.what, m.got, m.want)
		}
	}
	refl := testgrpc.Example(t, "reflection")
	rs, err := rpc.Reflect(context.Background(), base(t, "grpc://"+refl), attack.DoerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rs.Method("grpc.examples.echo.Echo/ClientStreamingEcho"); err == nil || !strings.Contains(err.Error(), "client-streaming") {
		t.Errorf("a client-streaming method: %v", err)
	}
}

// feed yields n copies of p, gap apart.
type feed struct {
	n, i int
	gap  time.Duration
	p    *attack.Prepared
}

func (f *feed) Next() (attack.Item, error) {
	if f.i == f.n {
		return attack.Item{Offset: time.Hour}, nil
	}
	f.i++
	return attack.Item{Offset: time.Duration(f.i) * f.gap, Req: []*attack.Prepared{f.p}}, nil
}
