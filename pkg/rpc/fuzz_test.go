package rpc_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/bestbefore/bestbefore/internal/testgrpc"
	"github.com/bestbefore/bestbefore/pkg/rpc"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Whatever a traffic line holds, preparing it as a gRPC call returns a
// message or an error, never a panic; a message prepared decodes back to
// the same JSON the schema prints.
func FuzzPrepare(f *testing.F) {
	s, err := rpc.Load(context.Background(), rpc.Source{Protos: []string{"predict.proto", "helloworld.proto"}, ImportPaths: []string{testgrpc.ProtoDir()}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ path, body, header string }{
		{"/bestbefore.test.Predictor/Predict", `{"user":"u1","features":[0.5,1e300],"context":{"a":[1,"x",null,{"b":true}]}}`, "x-team"},
		{"/helloworld.Greeter/SayHello", `{"name":"\u00e9"}`, "authorization"},
		{"helloworld.Greeter.SayHello", `{"name":1}`, "grpc-timeout"},
		{"/bestbefore.test.Predictor/Watch", ``, ":path"},
		{"/", `{`, "x-bin"},
	} {
		f.Add(seed.path, seed.body, seed.header)
	}
	f.Fuzz(func(t *testing.T, path, body, header string) {
		req := &traffic.Request{Path: path, Body: body}
		if header != "" {
			req.Header = http.Header{header: {"v"}}
		}
		if err := s.Check(req, http.Header{"X-Extra": {"1"}}); err != nil {
			return
		}
		md, _, err := s.Method(path)
		if err != nil {
			t.Fatalf("checked, but the method is not found: %v", err)
		}
		b, err := s.Encode(md.Input(), []byte(body))
		if err != nil {
			t.Fatalf("checked, but does not encode: %v", err)
		}
		js, err := s.Decode(md.Input(), b)
		if err != nil {
			t.Fatalf("encoded %x does not decode: %v", b, err)
		}
		again, err := s.Encode(md.Input(), js)
		if err != nil || string(again) != string(b) {
			t.Fatalf("%s encodes to %x, its JSON %s to %x (%v)", body, b, js, again, err)
		}
	})
}
