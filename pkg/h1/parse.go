package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 16

// parser reads one response; it lives in the pooled connection so reading
// allocates nothing.
type parser struct {
	br *bufio.Reader
	// max is the largest body accepted, 0 for no limit.
	max int64
	// maxHeader and maxFields bound the header block of one response
	// (interim responses included), in bytes and fields; 0 for no limit.
	maxHeader, maxFields int
	// headerBytes and fields count what the current response used.
	headerBytes, fields int
	// long holds a header line longer than the read buffer while it is
	// read; kept for the next one unless it grew past keepLong.
	long []byte
	// sink is the Streamer reading the current body, nil for none.
	sink Streamer
}

// keepLong is the largest long-line buffer a connection keeps between
// responses: a service that sends an 8 KiB cookie sends it every time,
// one that sent a 1 MiB header once should not pin a megabyte.
const keepLong = 64 << 10

// line reads one line of the status line and header block. A line longer
// than the read buffer is gathered in p.long: the buffer's size is a
// detail, the header bound (maxHeader) the only limit. Errors are the
// reader's, for the caller to word (lineErr), or ErrHeaderTooLarge.
func (p *parser) line() ([]byte, error) {
	line, err := p.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	p.long = append(p.long[:0], line...)
	for {
		if p.maxHeader > 0 && p.headerBytes+len(p.long) > p.maxHeader {
			return nil, fmt.Errorf("%w: more than %d bytes of status line and header fields", ErrHeaderTooLarge, p.maxHeader)
		}
		line, err = p.br.ReadSlice('\n')
		p.long = append(p.long, line...)
		if err != bufio.ErrBufferFull {
			return p.long, err
		}
	}
}

// errNoResponse means the connection ended before any byte of the
// response: the request may be retried on a fresh connection when the
// connection was a reused one.
var errNoResponse = errors.New("h1: connection closed before any response byte")

// read reads one response to a request (head: the request was HEAD) into
// resp. keep reports whether the connection may carry another request.
// started reports whether any byte of the response was read.
func (p *parser) read(head, keepBody bool, resp *Response) (keep, started bool, err error) {
	resp.Reset()
	p.headerBytes, p.fields = 0, 0
	if cap(p.long) > keepLong {
		p.long = nil
	}
	for interim := 0; ; interim++ {
		if interim > maxInterim {
			return false, true, fmt.Errorf("%w: more than %d interim (1xx) responses", ErrMalformed, maxInterim)
		}
		line, err := p.line()
		if err != nil {
			if errors.Is(err, ErrHeaderTooLarge) {
				return false, true, err
			}
			if interim == 0 && len(line) == 0 {
				if err == io.EOF {
					err = errNoResponse
				}
				return false, false, err
			}
			return false, true, p.lineErr(err, "status line")
		}
		if err := p.count(len(line), 0); err != nil {
			return false, true, err
		}
		minor, status, err := parseStatusLine(trimEOL(line))
		if err != nil {
			return false, true, err
		}
		resp.Status = status
		h, err := p.readHeader(resp)
		if err != nil {
			return false, true, err
		}
		if status >= 100 && status < 200 && status != 101 {
			resp.Header = resp.Header[:0]
			continue
		}

		keep = !h.close && (minor >= 1 || h.keepAlive)
		p.sink = nil
		if resp.Stream != nil && !head && status != 204 && status != 304 && status != 101 && resp.Stream.Start(resp) {
			p.sink, resp.Streamed = resp.Stream, true
		}
		if minor == 0 && h.te {
			// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding
			// has faulty framing; ignore the coding and close after it.
			h.te, keep = false, false
		}
		switch {
		case status == 101:
			// A protocol switch is not something a load generator follows.
			return false, true, nil
		case head || status == 204 || status == 304:
			return keep, true, nil
		case h.te:
			if h.cl >= 0 {
				keep = false // both framings: RFC 9112 §6.3 asks to close
			}
			if !h.chunked {
				return false, true, p.readUntilClose(keepBody, resp)
			}
			return keep, true, p.readChunked(keepBody, resp)
		case h.cl >= 0:
			return keep, true, p.readN(h.cl, keepBody, resp)
		default:
			return false, true, p.readUntilClose(keepBody, resp)
		}
	}
}

// count adds a line of n bytes holding fields header fields to the
// response's header block, failing once it is past a bound.
func (p *parser) count(n, fields int) error {
	p.headerBytes += n
	p.fields += fields
	switch {
	case p.maxHeader > 0 && p.headerBytes > p.maxHeader:
		return fmt.Errorf("%w: more than %d bytes of status line and header fields", ErrHeaderTooLarge, p.maxHeader)
	case p.maxFields > 0 && p.fields > p.maxFields:
		return fmt.Errorf("%w: more than %d header fields", ErrHeaderTooLarge, p.maxFields)
	}
	return nil
}

// lineErr turns a failure to read a whole line into the error to return.
func (p *parser) lineErr(err error, what string) error {
	switch err {
	case bufio.ErrBufferFull:
		return fmt.Errorf("%w: %s longer than the %d-byte read buffer", ErrMalformed, what, p.br.Size())
	case io.EOF:
		return fmt.Errorf("h1: connection closed inside the %s: %w", what, io.ErrUnexpectedEOF)
	}
	return err
}

// parseStatusLine parses "HTTP/1.x SSS reason".
func parseStatusLine(l []byte) (minor, status int, err error) {
	if len(l) < 12 || string(l[:7]) != "HTTP/1." || l[7] < '0' || l[7] > '9' || l[8] != ' ' ||
		(len(l) > 12 && l[12] != ' ') {
		return 0, 0, fmt.Errorf("%w: bad status line %q", ErrMalformed, clip(l))
	}
	for _, c := range l[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("%w: bad status code in %q", ErrMalformed, clip(l))
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, 0, fmt.Errorf("%w: bad status code in %q", ErrMalformed, clip(l))
	}
	return int(l[7] - '0'), status, nil
}

// framing is what the header says about the body and the connection.
type framing struct {
	cl        int64 // Content-Length, -1 when absent
	te        bool  // a Transfer-Encoding is present
	chunked   bool  // and chunked is its final coding
	close     bool  // Connection: close
	keepAlive bool  // Connection: keep-alive
}

// readHeader reads header lines up to the blank line, copying them into
// resp.Header.
func (p *parser) readHeader(resp *Response) (framing, error) {
	h := framing{cl: -1}
	for {
		line, err := p.line()
		if errors.Is(err, ErrHeaderTooLarge) {
			return h, err
		}
		if err != nil {
			return h, p.lineErr(err, "header")
		}
		l := trimEOL(line)
		if len(l) == 0 {
			return h, nil
		}
		if err := p.count(len(line), 1); err != nil {
			return h, err
		}
		if l[0] == ' ' || l[0] == '\t' {
			return h, fmt.Errorf("%w: obsolete header line folding in %q", ErrMalformed, clip(l))
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !isToken(l[:colon]) {
			return h, fmt.Errorf("%w: bad header line %q", ErrMalformed, clip(l))
		}
		resp.Header = append(append(resp.Header, l...), '\r', '\n')
		name, value := l[:colon], trimOWS(l[colon+1:])
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := parseContentLength(value)
			if !ok || (h.cl >= 0 && h.cl != n) {
				return h, fmt.Errorf("%w: bad Content-Length %q", ErrMalformed, clip(value))
			}
			h.cl = n
		case equalFold(name, "Transfer-Encoding"):
			h.te = true
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = trimOWS(value[i+1:])
			}
			h.chunked = equalFold(last, "chunked")
		case equalFold(name, "Connection"):
			for v := value; len(v) > 0; {
				tok := v
				if i := bytes.IndexByte(v, ','); i >= 0 {
					tok, v = v[:i], v[i+1:]
				} else {
					v = nil
				}
				tok = trimOWS(tok)
				h.close = h.close || equalFold(tok, "close")
				h.keepAlive = h.keepAlive || equalFold(tok, "keep-alive")
			}
		}
	}
}

// parseContentLength accepts decimal digits, or a list of identical values
// ("5, 5") as RFC 9110 §8.6 allows.
func parseContentLength(v []byte) (int64, bool) {
	n := int64(-1)
	for len(v) > 0 {
		part := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = trimOWS(v[:i]), v[i+1:]
		} else {
			v = nil
		}
		m, ok := parseDecimal(trimOWS(part))
		if !ok || (n >= 0 && m != n) {
			return 0, false
		}
		n = m
	}
	return n, n >= 0
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// readN reads a body of n bytes.
func (p *parser) readN(n int64, keepBody bool, resp *Response) error {
	if p.bounded(keepBody) && n > p.max {
		return tooLarge(n, p.max)
	}
	if err := p.body(n, keepBody, resp); err != nil {
		return err
	}
	resp.BodyLen = n
	return nil
}

// bounded says the body bound applies: a body kept in memory, or one
// not given to a Streamer (which bounds its own events).
func (p *parser) bounded(keepBody bool) bool {
	return p.max > 0 && (keepBody || p.sink == nil)
}

// body reads n body bytes, appending them to resp.Body or discarding them.
func (p *parser) body(n int64, keepBody bool, resp *Response) error {
	if p.sink != nil {
		return p.stream(n, keepBody, resp)
	}
	if !keepBody {
		if _, err := p.br.Discard(int(n)); err != nil {
			return bodyErr(err)
		}
		return nil
	}
	for n > 0 {
		// Grow by bounded steps: a lying Content-Length must not
		// allocate more than what actually arrives.
		step := min(n, 1<<20)
		m := len(resp.Body)
		resp.Body = slices.Grow(resp.Body, int(step))[:m+int(step)]
		if _, err := io.ReadFull(p.br, resp.Body[m:]); err != nil {
			resp.Body = resp.Body[:m]
			return bodyErr(err)
		}
		n -= step
	}
	return nil
}

// stream reads n body bytes as they arrive, giving each part to the
// Streamer when it comes (and keeping it when asked).
func (p *parser) stream(n int64, keepBody bool, resp *Response) error {
	for n > 0 {
		if p.br.Buffered() == 0 {
			if _, err := p.br.Peek(1); err != nil {
				return bodyErr(err)
			}
		}
		k := int(min(n, int64(p.br.Buffered())))
		b, _ := p.br.Peek(k)
		if keepBody {
			resp.Body = append(resp.Body, b...)
		}
		p.sink.Data(b)
		_, _ = p.br.Discard(k)
		n -= int64(k)
	}
	return nil
}

func bodyErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("h1: connection closed inside the body: %w", io.ErrUnexpectedEOF)
	}
	return err
}

func tooLarge(n, max int64) error {
	return fmt.Errorf("%w: body of %d bytes or more, limit %d", ErrTooLarge, n, max)
}

// readChunked reads a chunked body and its trailer section (discarded).
func (p *parser) readChunked(keepBody bool, resp *Response) error {
	var total int64
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			return p.lineErr(err, "chunk size line")
		}
		size, ok := parseChunkSize(trimEOL(line))
		if !ok {
			return fmt.Errorf("%w: bad chunk size line %q", ErrMalformed, clip(trimEOL(line)))
		}
		if size == 0 {
			break
		}
		total += size
		if p.bounded(keepBody) && total > p.max {
			return tooLarge(total, p.max)
		}
		if err := p.body(size, keepBody, resp); err != nil {
			return err
		}
		line, err = p.br.ReadSlice('\n')
		if err != nil {
			return p.lineErr(err, "chunk")
		}
		if len(trimEOL(line)) != 0 {
			return fmt.Errorf("%w: chunk longer than its size", ErrMalformed)
		}
	}
	resp.BodyLen = total
	for {
		line, err := p.br.ReadSlice('\n')
		if err != nil {
			return p.lineErr(err, "trailer")
		}
		if len(trimEOL(line)) == 0 {
			return nil
		}
	}
}

// parseChunkSize parses the hexadecimal size before any chunk extension.
func parseChunkSize(l []byte) (int64, bool) {
	if i := bytes.IndexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	l = trimOWS(l)
	if len(l) == 0 || len(l) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range l {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}

// readUntilClose reads a body delimited by the end of the connection.
func (p *parser) readUntilClose(keepBody bool, resp *Response) error {
	var total int64
	for {
		if _, err := p.br.Peek(1); err != nil {
			if err == io.EOF {
				resp.BodyLen = total
				return nil
			}
			return err
		}
		n := int64(p.br.Buffered())
		if p.bounded(keepBody) && total+n > p.max {
			return tooLarge(total+n, p.max)
		}
		if err := p.body(n, keepBody, resp); err != nil {
			return err
		}
		total += n
	}
}

// isToken reports whether b is a valid field name (RFC 9110 token).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// clip shortens what an error message quotes.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
