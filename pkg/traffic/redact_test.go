package traffic_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func TestRedactorHeadersAnyCase(t *testing.T) {
	r := traffic.NewRedactor([]string{"x-session"}, nil)
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
	r := traffic.NewRedactor(nil, []string{"password", "token"})
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
