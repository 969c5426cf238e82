//go:build linux

package h1

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection's non-blocking socket with raw
// system calls, waiting for readiness in the runtime's network poller
// like net.Conn does. The difference is what the scheduler sees: a
// net.Conn read or write enters a "syscall" state, and when it lasts more
// than 20 µs (a loopback write on a virtual machine often does) the
// runtime's monitor thread takes the processor away and hands it to
// another thread, then keeps waking every 20 µs to look for more. With the
// generator on one core that churn cost more CPU per request than the
// requests themselves (adr/0021). A non-blocking socket never blocks in a
// read or write, so nothing needs taking away.
type rawIO struct {
	rc syscall.RawConn
	// the current call's buffer and outcome, for the bound methods below
	buf     []byte
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// newRawIO returns nc's raw reader and writer, or nc itself when it is not
// a TCP connection.
func newRawIO(nc net.Conn) io.ReadWriter {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	r := &rawIO{rc: rc}
	r.readFn, r.writeFn = r.read1, r.write1
	return r
}

func (r *rawIO) read1(fd uintptr) bool {
	var p unsafe.Pointer
	if len(r.buf) > 0 {
		p = unsafe.Pointer(&r.buf[0])
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(p), uintptr(len(r.buf)))
	if e == syscall.EAGAIN {
		return false
	}
	if e == syscall.EINTR {
		return r.read1(fd)
	}
	r.n, r.errno = int(n), e
	return true
}

func (r *rawIO) write1(fd uintptr) bool {
	for len(r.buf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)))
		switch e {
		case 0:
			r.n += int(n)
			r.buf = r.buf[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.errno = e
			return true
		}
	}
	return true
}

// Read reads like net.Conn.Read: deadlines apply, 0 bytes is io.EOF.
func (r *rawIO) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.errno = b, 0, 0
	err := r.rc.Read(r.readFn)
	r.buf = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", r.errno)}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// Write writes all of b like net.Conn.Write: deadlines apply.
func (r *rawIO) Write(b []byte) (int, error) {
	r.buf, r.n, r.errno = b, 0, 0
	err := r.rc.Write(r.writeFn)
	r.buf = nil
	switch {
	case err != nil:
		return r.n, err
	case r.errno != 0:
		return r.n, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", r.errno)}
	}
	return r.n, nil
}
