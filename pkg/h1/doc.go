// Package h1 is a lean HTTP/1.1 client for the load generator.
//
// A Client talks to one host:port over plain TCP, keeps connections alive in
// a LIFO pool and sends one request at a time per connection (no
// pipelining). Requests are serialized once, by AppendRequest, and written
// verbatim; responses are parsed straight out of a pooled bufio.Reader into a
// caller-owned Response whose buffers are reused, so a request costs no
// allocation in steady state.
//
// Std implements the same Doer interface on net/http, for https:// targets
// and as the baseline the lean client is measured against. New picks one by
// the URL scheme.
//
// Errors keep their cause so a caller can classify them: errors.Is(err,
// ErrTimeout), ErrTooLarge, ErrMalformed, io.ErrUnexpectedEOF,
// syscall.ECONNREFUSED, syscall.ECONNRESET.
package h1
