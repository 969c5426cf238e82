//go:build !linux

package h1

import (
	"io"
	"net"
)

// newRawIO returns nc: raw socket I/O is only used on Linux (see
// rawio_linux.go).
func newRawIO(nc net.Conn) io.ReadWriter { return nc }
