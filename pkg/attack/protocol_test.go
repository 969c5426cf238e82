package attack_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/attack"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// target.connections spreads HTTP/2 requests over that many connections,
// in turn; without it net/http keeps one.
func TestHTTP2ConnectionsAreASetting(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 3} {
		mu.Lock()
		clear(conns)
		mu.Unlock()
		d, err := attack.NewDoer(u, attack.DoerOptions{Protocol: h1.ProtocolH2C, Connections: n, MaxConns: 100})
		if err != nil {
			t.Fatal(err)
		}
		p, err := attack.PrepareFor(attack.Target{Base: u, Doer: d}, nil)(&traffic.Request{Path: "/"})
		if err != nil {
			t.Fatal(err)
		}
		resp := &attack.Response{}
		for range 30 {
			if err := d.Do(p, time.Now().Add(5*time.Second), false, resp); err != nil || resp.Status != 200 {
				t.Fatalf("%v %d", err, resp.Status)
			}
		}
		want := max(n, 1)
		mu.Lock()
		got := len(conns)
		mu.Unlock()
		if got != want {
			t.Errorf("connections: %d: the server saw %d connections, want %d", n, got, want)
		}
	}
}
