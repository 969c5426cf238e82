package traffic_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func TestRedactorHeadersAnyCase(t *testing.T) {
	r := traffic.NewRedactor([]string{"x-session"}, nil, nil)
	req := &traffic.Request{Path: "/", Header: http.Header{
		"authorization": {"Bearer a"}, "Cookie": {"c=1", "d=2"}, "X-Api-Key": {"k"},
		"Proxy-Authorization": {"p"}, "X-Session": {"s"}, "Accept": {"*/*"},
	}}
	st := r.Apply(req)
	if st.Headers != 6 {
		t.Errorf("replaced %d header values, want 6", st.Headers)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			if k != "Accept" && v != traffic.Redacted {
				t.Errorf("%s kept %q", k, v)
			}
		}
	}
	if req.Header.Get("Accept") != "*/*" {
		t.Error("a harmless header was changed")
	}
	var nilR *traffic.Redactor
	nilR.Apply(req) // no redaction, no panic
}

func TestRedactorJSONFieldsAtAnyDepth(t *testing.T) {
	r := traffic.NewRedactor(nil, []string{"password", "token"}, nil)
	cases := []struct {
		body, want string
		withheld   bool
	}{
		{`{"user":"a","password":"p1"}`, `{"password":"REDACTED","user":"a"}`, false},
		{`[{"x":{"token":{"deep":1}}},{"list":[{"password":2}]}]`, `[{"x":{"token":"REDACTED"}},{"list":[{"password":"REDACTED"}]}]`, false},
		{`{"user":"a"}`, `{"user":"a"}`, false}, // nothing to redact: body untouched
		{`{"big":12345678901234567890}`, `{"big":12345678901234567890}`, false},
		{"plain text", "plain text", false},
		{`{"password":"cut-in-the-mid`, "", true}, // truncated JSON naming a field: withheld
		{`{"other":"cut`, `{"other":"cut`, false},
	}
	for _, c := range cases {
		req := &traffic.Request{Path: "/", Body: c.body}
		st := r.Apply(req)
		if req.Body != c.want || st.BodyWithheld != c.withheld {
			t.Errorf("%s -> %q (withheld %v), want %q (%v)", c.body, req.Body, st.BodyWithheld, c.want, c.withheld)
		}
		if c.withheld && !req.Truncated {
			t.Errorf("%s: withheld body not marked truncated", c.body)
		}
		if strings.Contains(req.Body, "p1") || strings.Contains(req.Body, "cut-in") {
			t.Errorf("secret left in %q", req.Body)
		}
	}
}

func TestSetBodyKeepsBinaryExact(t *testing.T) {
	var req traffic.Request
	bin := []byte{0xff, 0, 'a'}
	req.SetBody(bin)
	if req.Body != "" || req.BodyBase64 != "/wBh" || string(req.BodyBytes()) != string(bin) {
		t.Fatalf("%+v", req)
	}
	req.SetBody([]byte("héllo"))
	if req.Body != "héllo" || req.BodyBase64 != "" {
		t.Fatalf("%+v", req)
	}
}

// The secrets users found stored in clear are redacted by default, in any
// case, in query strings, JSON bodies and form bodies, keeping the key so
// the request still replays; --keep-field narrows the list.
func TestRedactorDefaultsCoverCommonSecrets(t *testing.T) {
	r := traffic.NewRedactor(nil, nil, nil)
	req := &traffic.Request{
		Path: "/v1/search?q=mouse&api_key=AK1&Access_Token=AT2&token=T3&password=P4&k=5",
		Header: http.Header{
			"X-Auth-Token": {"H1"}, "X-Amz-Security-Token": {"H2"}, "Api-Key": {"H3"},
			"Content-Type": {"application/json"}, "Accept": {"*/*"},
		},
		Body: `{"user":"ann","Password":"B1","token":"B2","client_secret":"B3","nested":{"deep":[{"api_key":"B4"}]}}`,
	}
	st := r.Apply(req)
	for _, secret := range []string{"AK1", "AT2", "T3", "P4", "H1", "H2", "H3", "B1", "B2", "B3", "B4"} {
		if strings.Contains(req.Path+req.Body+strings.Join(req.Header.Values("X-Auth-Token"), "")+
			strings.Join(req.Header.Values("X-Amz-Security-Token"), "")+strings.Join(req.Header.Values("Api-Key"), ""), secret) {
			t.Errorf("secret %s kept: %s %v %s", secret, req.Path, req.Header, req.Body)
		}
	}
	if req.Path != "/v1/search?q=mouse&api_key=REDACTED&Access_Token=REDACTED&token=REDACTED&password=REDACTED&k=5" {
		t.Errorf("query: %s", req.Path)
	}
	if st.Query != 4 || st.Headers != 3 || st.Fields != 4 {
		t.Errorf("stats %+v", st)
	}
	if req.Header.Get("Accept") != "*/*" || !strings.Contains(req.Body, `"user":"ann"`) {
		t.Error("harmless fields changed")
	}

	form := &traffic.Request{Path: "/login", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
		Body: "user=ann&PASSWORD=hunter2&remember=1"}
	r.Apply(form)
	if form.Body != "user=ann&PASSWORD=REDACTED&remember=1" {
		t.Errorf("form body: %s", form.Body)
	}

	keep := traffic.NewRedactor(nil, []string{"pin"}, []string{"token", "Api-Key"})
	kr := &traffic.Request{Path: "/p?token=t&pin=1", Header: http.Header{"Api-Key": {"k"}}}
	keep.Apply(kr)
	if kr.Path != "/p?token=t&pin=REDACTED" || kr.Header.Get("Api-Key") != "k" {
		t.Errorf("--keep-field/--redact-field: %s %v", kr.Path, kr.Header)
	}
}

// The README's safety section lists what is redacted by default; it must
// list every name the redactor uses, so a user reading it knows them all.
func TestREADMEListsEveryDefaultRedaction(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, name := range append(append([]string{}, traffic.DefaultRedactHeaders...), traffic.DefaultRedactFields...) {
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README.md does not list %q among the names redacted by default", name)
		}
	}
}

// Nested form keys as Rails, PHP and qs write them are redacted by any
// bracketed part; a gzip or deflate body is redacted inside and sent
// compressed again; a body in an encoding that cannot be read is
// withheld. No secret is stored because of its form's shape or its
// compression.
func TestRedactorNestedFormsAndCompressedBodies(t *testing.T) {
	r := traffic.NewRedactor(nil, nil, nil)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, body := range []string{
		"user[name]=ann&user[password]=S3CRET",
		"user%5Btoken%5D=S3CRET&x=1",
		"a[b][api_key]=S3CRET",
		"password[]=S3CRET&password[]=S3CRET2",
	} {
		req := &traffic.Request{Method: "POST", Path: "/login?next[token]=S3CRET", Header: form.Clone()}
		req.SetBody([]byte(body))
		r.Apply(req)
		if got := string(req.BodyBytes()) + req.Path; strings.Contains(got, "S3CRET") {
			t.Errorf("%s: stored %q", body, got)
		}
	}
	for _, enc := range []string{"gzip", "deflate"} {
		var buf bytes.Buffer
		var w io.WriteCloser = gzip.NewWriter(&buf)
		if enc == "deflate" {
			w = zlib.NewWriter(&buf)
		}
		w.Write([]byte(`{"user":"ann","password":"S3CRET"}`))
		w.Close()
		req := &traffic.Request{Method: "POST", Path: "/login", Header: http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {enc}}}
		req.SetBody(buf.Bytes())
		st := r.Apply(req)
		var rd io.Reader
		if enc == "deflate" {
			rd, _ = zlib.NewReader(bytes.NewReader(req.BodyBytes()))
		} else {
			rd, _ = gzip.NewReader(bytes.NewReader(req.BodyBytes()))
		}
		plain, err := io.ReadAll(rd)
		if err != nil || st.Fields != 1 || strings.Contains(string(plain), "S3CRET") || !strings.Contains(string(plain), `"user":"ann"`) {
			t.Errorf("%s: fields %d, decoded %q (%v)", enc, st.Fields, plain, err)
		}
	}
	req := &traffic.Request{Method: "POST", Path: "/login", Header: http.Header{"Content-Encoding": {"br"}}}
	req.SetBody([]byte{0x1b, 0x22, 0x00, 0x00, 0x04, 0x53, 0x33})
	if st := r.Apply(req); !st.BodyWithheld || len(req.BodyBytes()) != 0 {
		t.Errorf("a brotli body was kept unread: %+v", st)
	}
}
