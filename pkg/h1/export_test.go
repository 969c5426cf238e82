package h1

import (
	"bufio"
	"bytes"
)

// ParseResponse reads one response from b, as Do would on a connection.
func ParseResponse(b []byte, head, keepBody bool, max int64, bufSize int, resp *Response) (keep bool, err error) {
	p := parser{br: bufio.NewReaderSize(bytes.NewReader(b), bufSize), max: max}
	keep, _, err = p.read(head, keepBody, resp)
	return keep, err
}
