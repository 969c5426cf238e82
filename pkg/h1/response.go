package h1

import "bytes"

// Response is one HTTP response. Its buffers are reused by the next Do
// that is given the same Response, so a caller keeps one per worker.
type Response struct {
	// Status is the status code of the final (non-1xx) response.
	Status int
	// Header is the raw header block of the final response: every header
	// line, each ending in "\r\n", without the status line and the blank
	// line. Read it with HeaderValue.
	Header []byte
	// Body holds the body when Do was asked to keep it, otherwise it is
	// empty.
	Body []byte
	// BodyLen is the length of the body as received (after removing the
	// chunked framing), whether it was kept or discarded.
	BodyLen int64
	// Stream, when set, is offered every response once its header is
	// read; a body it takes (an event stream) is given to it as it
	// arrives, and the body bound (Options.MaxResponseBytes) does not
	// apply to it unless the body is kept: the Streamer bounds what it
	// holds itself. Do leaves it as it is.
	Stream Streamer
	// Streamed is set when Stream took the body.
	Streamed bool
}

// Streamer reads a response's body as it arrives: time to first token
// and between tokens are read from when each part came, not from when
// the whole body had.
type Streamer interface {
	// Start says, from the header, whether to read this body as a stream.
	Start(r *Response) bool
	// Data is called with each part of the body as it is read; the bytes
	// are valid only during the call.
	Data(p []byte)
}

// Reset empties r, keeping the capacity of its buffers.
func (r *Response) Reset() {
	r.Status = 0
	r.Header = r.Header[:0]
	r.Body = r.Body[:0]
	r.BodyLen = 0
	r.Streamed = false
}

// HeaderValue returns the value of the first header field called name
// (compared without regard to case), with surrounding blanks removed.
func (r *Response) HeaderValue(name string) (string, bool) {
	v, ok := r.HeaderBytes(name)
	return string(v), ok
}

// HeaderBytes is HeaderValue without a copy: the value's bytes in the
// header block, valid until the Response is reused.
func (r *Response) HeaderBytes(name string) ([]byte, bool) {
	h := r.Header
	for len(h) > 0 {
		var line []byte
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			line, h = h[:i], h[i+1:]
		} else {
			line, h = h, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		colon := bytes.IndexByte(line, ':')
		if colon < 0 || !equalFold(line[:colon], name) {
			continue
		}
		return trimOWS(line[colon+1:]), true
	}
	return nil, false
}

// equalFold reports whether b and s are equal under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimOWS removes optional whitespace (spaces and tabs) around b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
