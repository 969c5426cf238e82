package h1_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// Every way a header, target or method could split one request into two
// is refused, not rewritten: the bytes never reach a connection.
func TestAppendRequestRefusesWhatAParserWouldSplit(t *testing.T) {
	smuggle := "1\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: internal\r\nX-Pad: 1"
	for _, tc := range []struct {
		name, method, host, target string
		header                     http.Header
		want                       string
	}{
		{"CRLF in a value", "GET", "a", "/", http.Header{"X-Trace": {smuggle}}, "carriage return"},
		{"LF alone in a value", "GET", "a", "/", http.Header{"X-A": {"v\nX-Injected: yes"}}, "line feed"},
		{"NUL in a value", "GET", "a", "/", http.Header{"X-A": {"v\x00w"}}, "NUL"},
		{"other control byte", "GET", "a", "/", http.Header{"X-A": {"v\x1bw"}}, "0x1b"},
		{"space in a name", "GET", "a", "/", http.Header{"X Injected": {"v"}}, "space"},
		{"colon in a name", "GET", "a", "/", http.Header{"X-A:b": {"v"}}, "token"},
		{"empty name", "GET", "a", "/", http.Header{"": {"v"}}, "empty header name"},
		{"CRLF in the target", "GET", "a", "/x\r\nX-Injected: yes", nil, "carriage return"},
		{"space in the target", "GET", "a", "/base path", nil, "space"},
		{"raw non-ASCII in the target", "GET", "a", "/caf\xc3\xa9", nil, "0xc3"},
		{"lone percent", "GET", "a", "/100%", nil, "two hex digits"},
		{"fragment", "GET", "a", "/a#b", nil, "fragment"},
		{"target not a path", "GET", "a", "http://evil/", nil, "start with /"},
		{"method with a space", "GET /x HTTP/1.1\r\n", "a", "/", nil, "method"},
		{"host with CRLF", "GET", "a\r\nX-Injected: yes", "/", nil, "host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("kept")
			got, err := h1.AppendRequest(dst, tc.method, tc.host, tc.target, tc.header, nil)
			if !errors.Is(err, h1.ErrNotWireSafe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNotWireSafe mentioning %q", err, tc.want)
			}
			if string(got) != "kept" {
				t.Errorf("dst changed to %q", got)
			}
		})
	}
}

// What the serializer accepts keeps its meaning: percent-encodings stay
// encoded, RFC 3986's delimiters and tabs inside values pass.
func TestAppendRequestKeepsWhatIsSafe(t *testing.T) {
	raw := rawRequest("GET", "[::1]:8080", "/a%0d%0a/b;c=d?q=x+y&r[]=1&s=@:!$'()*,~", http.Header{"X-A": {"tab\tinside, and \"quotes\""}}, nil)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if req.RequestURI != "/a%0d%0a/b;c=d?q=x+y&r[]=1&s=@:!$'()*,~" || req.Header.Get("X-A") != "tab\tinside, and \"quotes\"" {
		t.Errorf("read back %q, %q", req.RequestURI, req.Header.Get("X-A"))
	}
}

// FuzzAppendRequest: whatever the serializer writes, net/http's server
// parser reads as exactly one request, with the method, target, headers
// and body that were given, and nothing left over.
func FuzzAppendRequest(f *testing.F) {
	f.Add("GET", "/", "X-A", "v", "")
	f.Add("POST", "/p?x=1", "Content-Type", "application/json", `{"k":5}`)
	f.Add("GET", "/", "X-Trace", "1\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: internal", "")
	f.Add("GET", "/x\r\nX: y", "X-A", "v", "")
	f.Add("GET", "/a%0d%0a", "X-A", "v\x00", "")
	f.Add("GET /x HTTP/1.1\r\n", "/", "X A", "v", "")
	f.Add("PUT", "/", "Transfer-Encoding", "chunked", "0\r\n\r\n")
	f.Add("DELETE", "/r[]", "Content-Length", "5", "abc")
	f.Add("GET", "/", "host", "api.internal:8443", "")
	f.Add("GET", "/", "Host", "a\r\nX: y", "")
	f.Fuzz(func(t *testing.T, method, target, name, value, body string) {
		header := http.Header{name: {value}}
		raw, err := h1.AppendRequest(nil, method, "example.test", target, header, []byte(body))
		if err != nil {
			if !errors.Is(err, h1.ErrNotWireSafe) {
				t.Fatalf("error %v does not wrap ErrNotWireSafe", err)
			}
			return
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http cannot read %q: %v", raw, err)
		}
		got, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("body of %q: %v", raw, err)
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			t.Fatalf("%q parsed as more than one request: %q left over", raw, rest)
		}
		wantMethod := method
		if wantMethod == "" {
			wantMethod = "GET"
		}
		wantTarget := target
		if wantTarget == "" {
			wantTarget = "/"
		}
		wantHost := "example.test"
		if strings.EqualFold(name, "Host") && value != "" {
			wantHost = value // a Host field asks for another virtual host
		}
		if req.Method != wantMethod || req.RequestURI != wantTarget || string(got) != body || req.Host != wantHost {
			t.Fatalf("%q read back as %s %s host %q body %q", raw, req.Method, req.RequestURI, req.Host, got)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade":
		default:
			if vs := req.Header.Values(name); len(vs) != 1 || vs[0] != strings.Trim(value, " \t") {
				t.Fatalf("%q: header %q read back as %q, want %q", raw, name, vs, value)
			}
		}
	})
}

// A Host field in the request asks the target for another virtual host,
// as vegeta's targets and curl -H 'Host: ...' do; one Host line is sent.
func TestAppendRequestHostField(t *testing.T) {
	raw, err := h1.AppendRequest(nil, "GET", "127.0.0.1:8080", "/", http.Header{"Host": {"api.internal"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(raw), "Host: ") != 1 || !strings.Contains(string(raw), "Host: api.internal\r\n") {
		t.Fatalf("wrote %q", raw)
	}
	if _, err := h1.AppendRequest(nil, "GET", "127.0.0.1:8080", "/", http.Header{"host": {"a b"}}, nil); !errors.Is(err, h1.ErrNotWireSafe) {
		t.Fatalf("a Host field with a space: %v", err)
	}
}
