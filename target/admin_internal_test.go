package target

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The balancer's /admin/ endpoints kill nodes without authentication:
// a client that is not on loopback gets 403, whatever address the
// balancer listens on.
func TestAdminAnswersLoopbackOnly(t *testing.T) {
	reached := 0
	h := loopbackOnly(func(w http.ResponseWriter, r *http.Request) { reached++ })
	for addr, want := range map[string]int{
		"127.0.0.1:5000":       200,
		"[::1]:5000":           200,
		"203.0.113.7:5000":     403,
		"10.1.2.3:5000":        403,
		"[2001:db8::1]:5000":   403,
		"169.254.169.254:5000": 403,
		"garbage":              403,
	} {
		r := httptest.NewRequest("POST", "/admin/nodes/0/kill", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != want {
			t.Errorf("client %s: %d, want %d", addr, w.Code, want)
		}
	}
	if reached != 2 {
		t.Errorf("handler reached %d times, want 2", reached)
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://[::1]:1": true, "http://localhost:9": true,
		"http://0.0.0.0:8080": false, "http://[::]:8080": false, "http://192.168.1.4:80": false, "::": false,
	} {
		if got := IsLoopbackURL(u); got != want {
			t.Errorf("IsLoopbackURL(%q) = %v", u, got)
		}
	}
}
