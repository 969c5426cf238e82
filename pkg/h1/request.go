package h1

import (
	"net/http"
	"slices"
	"strconv"
)

// AppendRequest appends to dst an HTTP/1.1 request ready to be written on
// the wire and returns the extended buffer. An empty method means GET and
// an empty path "/". The Host header is host; header fields are written in
// sorted order, each value on its own line, with any CR or LF in them
// turned into spaces. Host, Content-Length and the hop-by-hop fields
// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE,
// Upgrade) are taken from the request itself, not from header: the body is
// always sent with a Content-Length, except for a GET or HEAD without a
// body, which carries none (as net/http does).
func AppendRequest(dst []byte, method, host, path string, header http.Header, body []byte) []byte {
	if method == "" {
		method = http.MethodGet
	}
	if path == "" {
		path = "/"
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = appendSanitized(dst, host)
	dst = append(dst, "\r\n"...)

	var stack [16]string
	keys := stack[:0]
	for k := range header {
		if !skipHeader(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			dst = appendSanitized(dst, k)
			dst = append(dst, ": "...)
			dst = appendSanitized(dst, v)
			dst = append(dst, "\r\n"...)
		}
	}
	if len(body) > 0 || (method != http.MethodGet && method != http.MethodHead) {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// skipHeader reports the fields AppendRequest writes itself or drops.
func skipHeader(k string) bool {
	for _, s := range [...]string{"Host", "Content-Length", "Connection", "Keep-Alive",
		"Proxy-Connection", "Transfer-Encoding", "Te", "Upgrade"} {
		if equalFold([]byte(k), s) {
			return true
		}
	}
	return false
}

func appendSanitized(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
