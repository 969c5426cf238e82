package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/bestbefore/bestbefore/pkg/attack"
)

// The reflection services, newest first: v1alpha has the same messages
// on the wire, under another name, and older servers offer only it.
var reflectionMethods = []string{
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}

// maxReflectedFiles bounds the files one reflection asks for.
const maxReflectedFiles = 10000

// ErrNoReflection says the server offers no reflection service.
var ErrNoReflection = errors.New("the server offers no reflection")

// Reflect asks the target's reflection service for every service it
// offers and the files that define them (with their imports).
func Reflect(ctx context.Context, base *url.URL, o attack.DoerOptions) (*Schema, error) {
	cc, err := dial(base, o)
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var last error
	for _, m := range reflectionMethods {
		set, err := reflectOn(ctx, cc, m)
		if status.Code(err) == codes.Unimplemented {
			last = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("server reflection: %w", err)
		}
		return fromSet(set, base.Redacted()+" (server reflection)")
	}
	return nil, fmt.Errorf("%w (%v)", ErrNoReflection, status.Convert(last).Message())
}

func reflectOn(ctx context.Context, cc *grpc.ClientConn, method string) (*descriptorpb.FileDescriptorSet, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		return nil, err
	}
	ask := func(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
		if err := st.SendMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream (e.g. UNIMPLEMENTED): its
				// status is what RecvMsg returns.
				if rerr := st.RecvMsg(new(rpb.ServerReflectionResponse)); rerr != nil {
					return nil, rerr
				}
			}
			return nil, err
		}
		resp := new(rpb.ServerReflectionResponse)
		if err := st.RecvMsg(resp); err != nil {
			return nil, err
		}
		if e := resp.GetErrorResponse(); e != nil {
			return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
		}
		return resp, nil
	}
	resp, err := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return nil, err
	}
	files := map[string]*descriptorpb.FileDescriptorProto{}
	var order []string
	add := func(r *rpb.ServerReflectionResponse) error {
		for _, b := range r.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fd); err != nil {
				return fmt.Errorf("a file descriptor does not decode: %v", err)
			}
			if _, ok := files[fd.GetName()]; !ok {
				files[fd.GetName()] = fd
				order = append(order, fd.GetName())
			}
		}
		return nil
	}
	for _, svc := range resp.GetListServicesResponse().GetService() {
		name := svc.GetName()
		if strings.HasPrefix(name, "grpc.reflection.") {
			continue
		}
		r, err := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}})
		if err != nil {
			return nil, fmt.Errorf("the file of %s: %w", name, err)
		}
		if err := add(r); err != nil {
			return nil, err
		}
	}
	// Imports the server did not send with the files that need them.
	for i := 0; i < len(order); i++ {
		if len(order) > maxReflectedFiles {
			return nil, fmt.Errorf("more than %d files", maxReflectedFiles)
		}
		for _, dep := range files[order[i]].GetDependency() {
			if _, ok := files[dep]; ok {
				continue
			}
			r, err := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
			if err != nil {
				return nil, fmt.Errorf("the import %s: %w", dep, err)
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
	}
	st.CloseSend()
	set := &descriptorpb.FileDescriptorSet{}
	for _, n := range order {
		set.File = append(set.File, files[n])
	}
	return set, nil
}
