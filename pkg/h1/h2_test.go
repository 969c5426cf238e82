package h1_test

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testnginx"
	"github.com/bestbefore/bestbefore/pkg/h1"
)

// HTTP/2 against a server nobody here wrote (nginx): h2 negotiated by
// ALPN over TLS, h2c by prior knowledge, HTTP/1.1 over the same TLS
// listener when asked, the server's own word on the protocol it served;
// and a certificate that does not chain to the trusted authorities is
// refused.
func TestHTTP2AgainstNginx(t *testing.T) {
	ng := testnginx.Start(t)
	pem, err := os.ReadFile(ng.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, tc := range []struct {
		name, base, protocol, want string
		roots                      *x509.CertPool
	}{
		{"h2 over TLS", ng.TLS, h1.ProtocolH2, "HTTP/2.0", roots},
		{"h2c", ng.H2C, h1.ProtocolH2C, "HTTP/2.0", nil},
		{"HTTP/1.1 over TLS", ng.TLS, "", "HTTP/1.1", roots},
	} {
		d, err := h1.New(tc.base, h1.Options{Protocol: tc.protocol, RootCAs: tc.roots, MaxConns: 4})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range 3 { // later requests reuse the connection
			var resp h1.Response
			raw := []byte("GET /v1/predict?i=" + string(rune('0'+i)) + " HTTP/1.1\r\nHost: x\r\n\r\n")
			if err := d.Do(raw, time.Now().Add(5*time.Second), true, &resp); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			proto, _ := resp.HeaderValue("X-Protocol")
			if resp.Status != 200 || proto != tc.want || !strings.Contains(string(resp.Body), `"uri":"/v1/predict?i=`) {
				t.Errorf("%s: status %d, served in %q, body %s; want 200 in %s", tc.name, resp.Status, proto, resp.Body, tc.want)
			}
		}
	}
	d, err := h1.New(ng.TLS, h1.Options{Protocol: h1.ProtocolH2})
	if err != nil {
		t.Fatal(err)
	}
	var resp h1.Response
	if err := d.Do([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), time.Now().Add(5*time.Second), false, &resp); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed certificate not trusted: %v, want a certificate error", err)
	}
}
