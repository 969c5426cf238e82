// Package rpc speaks gRPC to a target: unary calls to any method, whose
// messages are written in traffic files as protobuf JSON and encoded once,
// before the run, from descriptors found by server reflection, in a
// protoset or in .proto files. It registers the grpc:// and grpcs://
// schemes with pkg/attack; pacing, timing from the intended send,
// accounting and objectives are the same as for HTTP. See
// adr/0039-grpc-through-the-protocol-seam.md.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MaxProtosetBytes bounds a protoset file read into memory.
const MaxProtosetBytes = 64 << 20

// Schema is the methods a gRPC target serves, by full method path
// (/package.Service/Method).
type Schema struct {
	// From says where the descriptors came from, for messages.
	From    string
	methods map[string]protoreflect.MethodDescriptor
	types   *protoregistry.Types
}

// Source says where a target's descriptors come from when its server
// offers no reflection, or should not be asked.
type Source struct {
	// Protoset is a FileDescriptorSet file (protoc --descriptor_set_out
	// --include_imports, buf build -o).
	Protoset string
	// Protos are .proto files, compiled here; ImportPaths are where
	// their imports are looked up (the well-known types are built in).
	Protos      []string
	ImportPaths []string
}

// Set says whether the source names any file (else: server reflection).
func (s Source) Set() bool { return s.Protoset != "" || len(s.Protos) > 0 }

// Load reads the descriptors a Source names.
func Load(ctx context.Context, src Source) (*Schema, error) {
	switch {
	case src.Protoset != "" && len(src.Protos) > 0:
		return nil, errors.New("give a protoset or .proto files, not both")
	case src.Protoset != "":
		return loadProtoset(src.Protoset)
	case len(src.Protos) > 0:
		return compileProtos(ctx, src)
	}
	return nil, errors.New("no descriptors named: give a protoset or .proto files, or use server reflection")
}

func loadProtoset(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxProtosetBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than a protoset may be (%d MiB)", path, st.Size(), MaxProtosetBytes>>20)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%s is not a protoset (a FileDescriptorSet, as protoc --descriptor_set_out writes): %v", path, err)
	}
	s, err := fromSet(&set, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v (a protoset must hold every import: protoc --include_imports)", path, err)
	}
	return s, nil
}

// fromSet builds a Schema from file descriptors that hold every import.
func fromSet(set *descriptorpb.FileDescriptorSet, from string) (*Schema, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, err
	}
	var fds []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		fds = append(fds, fd)
		return true
	})
	return newSchema(fds, from)
}

func compileProtos(ctx context.Context, src Source) (*Schema, error) {
	paths := src.ImportPaths
	names := make([]string, len(src.Protos))
	copy(names, src.Protos)
	if len(paths) == 0 {
		// Without import paths, each file is found where it is named.
		paths = []string{"."}
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: paths}),
	}
	linked, err := c.Compile(ctx, names...)
	if err != nil {
		return nil, err
	}
	fds := make([]protoreflect.FileDescriptor, len(linked))
	for i, f := range linked {
		fds[i] = f
	}
	return newSchema(fds, strings.Join(src.Protos, ", "))
}

// newSchema indexes the services of fds and their imports.
func newSchema(fds []protoreflect.FileDescriptor, from string) (*Schema, error) {
	s := &Schema{From: from, methods: map[string]protoreflect.MethodDescriptor{}, types: new(protoregistry.Types)}
	seen := map[string]bool{}
	var walk func(fd protoreflect.FileDescriptor)
	walk = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			walk(imps.Get(i).FileDescriptor)
		}
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			ms := sd.Methods()
			for j := 0; j < ms.Len(); j++ {
				m := ms.Get(j)
				s.methods["/"+string(sd.FullName())+"/"+string(m.Name())] = m
			}
		}
		registerTypes(s.types, fd.Messages())
	}
	for _, fd := range fds {
		walk(fd)
	}
	if len(s.methods) == 0 {
		return nil, fmt.Errorf("%s: no service is defined", from)
	}
	return s, nil
}

// registerTypes makes messages resolvable by name, for google.protobuf.Any
// fields in protobuf JSON.
func registerTypes(r *protoregistry.Types, ms protoreflect.MessageDescriptors) {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if _, err := r.FindMessageByName(m.FullName()); err != nil {
			r.RegisterMessage(dynamicpb.NewMessageType(m))
		}
		registerTypes(r, m.Messages())
	}
}

// Methods lists the schema's methods, sorted.
func (s *Schema) Methods() []string {
	out := make([]string, 0, len(s.methods))
	for m := range s.methods {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// MethodPath reads a method as a user writes it: /package.Service/Method,
// package.Service/Method or package.Service.Method.
func MethodPath(name string) string {
	name = strings.TrimPrefix(strings.TrimSpace(name), "/")
	if !strings.Contains(name, "/") {
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			name = name[:i] + "/" + name[i+1:]
		}
	}
	return "/" + name
}

// Method finds a method by any spelling MethodPath reads.
func (s *Schema) Method(name string) (protoreflect.MethodDescriptor, string, error) {
	path := MethodPath(name)
	m, ok := s.methods[path]
	if !ok {
		return nil, "", fmt.Errorf("no method %s in %s (it has %s)", path, s.From, listShort(s.Methods(), 6))
	}
	if m.IsStreamingClient() {
		return nil, "", fmt.Errorf("%s is a client-streaming method: only unary and server-streaming calls are sent", path)
	}
	return m, path, nil
}

func listShort(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// Encode reads a message of type md from protobuf JSON ("" is the empty
// message) and returns its wire bytes, deterministically ordered.
func (s *Schema) Encode(md protoreflect.MessageDescriptor, js []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if len(strings.TrimSpace(string(js))) > 0 {
		if err := (protojson.UnmarshalOptions{Resolver: s.types}).Unmarshal(js, msg); err != nil {
			return nil, fmt.Errorf("body is not a %s in protobuf JSON: %v", md.FullName(), err)
		}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

// Decode turns a message of type md in wire bytes into protobuf JSON, for
// the checks that read a response body.
func (s *Schema) Decode(md protoreflect.MessageDescriptor, b []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(b, msg); err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{Resolver: s.types, UseProtoNames: true, EmitUnpopulated: true}.Marshal(msg)
}
