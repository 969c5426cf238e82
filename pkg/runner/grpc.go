package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/rpc"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// GRPCSetup loads what a gRPC target needs before any call is made (its
// descriptors: from target.grpc's files, else from the first URL's server
// reflection) and checks every traffic line against them: a method that
// does not exist or a body that is not its message is bad input (exit 2)
// naming the traffic file and line. It returns nil for HTTP targets.
func GRPCSetup(ctx context.Context, s *scenario.Scenario, urls []string, trafficPath string, allowPublic bool) (*rpc.Setup, error) {
	if len(urls) == 0 {
		return nil, nil
	}
	base, err := h1.ParseBase(urls[0])
	if err != nil {
		return nil, badInput(fmt.Errorf("target %w", err))
	}
	if !h1.IsGRPC(base) {
		return nil, nil
	}
	g := s.Target.GRPC
	if g == nil {
		g = &scenario.GRPC{}
	}
	var src rpc.Source
	if g.Protoset != "" {
		src.Protoset = s.Resolve(g.Protoset)
	}
	for _, p := range g.ImportPaths {
		src.ImportPaths = append(src.ImportPaths, s.Resolve(p))
	}
	if len(g.Proto) > 0 {
		src.Protos = g.Proto
		if len(src.ImportPaths) == 0 {
			dir := s.Dir
			if dir == "" {
				dir = "."
			}
			src.ImportPaths = []string{dir}
		}
	}
	setup := &rpc.Setup{Connections: s.Target.Connections, Streams: s.Target.Streams}
	if src.Set() {
		field := "target.grpc.protoset"
		if len(src.Protos) > 0 {
			field = "target.grpc.proto"
		}
		if setup.Schema, err = rpc.Load(ctx, src); err != nil {
			return nil, badInput(fmt.Errorf("%s: %s: %v", s.Path, field, err))
		}
	} else {
		roots, err := s.Target.RootCAs(s.Resolve)
		if err != nil {
			return nil, badInput(fmt.Errorf("%s: target.ca_file: %v", s.Path, err))
		}
		setup.Schema, err = rpc.Reflect(ctx, base, attack.DoerOptions{Guard: h1.Guard{AllowPublic: allowPublic}, RootCAs: roots})
		switch {
		case ctx.Err() != nil:
			return nil, ErrInterrupted
		case errors.Is(err, rpc.ErrNoReflection):
			return nil, badInput(fmt.Errorf("%s: %v: give its descriptors in target.grpc.protoset or target.grpc.proto", urls[0], err))
		case err != nil:
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, urls[0], err)
		}
	}
	extra := http.Header{}
	for k, v := range s.Target.Headers {
		extra.Set(k, v)
	}
	if err := checkCalls(trafficPath, setup.Schema, extra); err != nil {
		return nil, badInput(err)
	}
	return setup, nil
}

// checkCalls prepares every line of the traffic file once, as the run
// will: the whole file is checked before the first call.
func checkCalls(path string, schema *rpc.Schema, extra http.Header) error {
	src, err := traffic.NewSource(path, false, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		req, err := src.Next()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if src.Cycles > 0 {
			return nil
		}
		if err := schema.Check(req, extra); err != nil {
			return fmt.Errorf("%s:%d: %v", path, req.Line, err)
		}
	}
}
