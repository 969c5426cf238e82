//go:build tools

// Package tools pins the example servers this module builds.
package tools

import (
	_ "google.golang.org/grpc/examples/features/reflection/server"
	_ "google.golang.org/grpc/examples/helloworld/greeter_server"
)
