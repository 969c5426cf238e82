package h1_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

func TestStdDo(t *testing.T) {
	srv, conns := newCountingServer(t, nil)
	s, err := h1.NewStd(srv.URL, h1.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdle()
	var resp h1.Response
	for range 3 {
		raw := rawRequest("POST", "example.test", "/p?x=1", http.Header{"Content-Type": {"text/plain"}}, []byte("abc"))
		if err := s.Do(raw, deadline(), true, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "POST /p?x=1 abc" || resp.BodyLen != 15 {
			t.Fatalf("got %d %q (%d)", resp.Status, resp.Body, resp.BodyLen)
		}
		if ct, ok := resp.HeaderValue("content-type"); !ok || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type = %q, %v", ct, ok)
		}
	}
	if err := s.Do(rawRequest("GET", "x", "/", nil, nil), deadline(), false, &resp); err != nil || len(resp.Body) != 0 || resp.BodyLen != 6 {
		t.Errorf("discarding the body: err %v, body %q, BodyLen %d", err, resp.Body, resp.BodyLen)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestStdErrors(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv, _ := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		})
		s, _ := h1.NewStd(srv.URL, h1.Options{})
		defer s.CloseIdle()
		var resp h1.Response
		if err := s.Do(rawRequest("GET", "x", "/", nil, nil), time.Now().Add(100*time.Millisecond), false, &resp); !errors.Is(err, h1.ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		s, _ := h1.NewStd("http://"+addr, h1.Options{})
		var resp h1.Response
		if err := s.Do(rawRequest("GET", addr, "/", nil, nil), deadline(), false, &resp); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("err = %v, want ECONNREFUSED", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		srv, _ := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush() // chunked: no length known in advance
			w.Write([]byte(strings.Repeat("x", 100)))
		})
		s, _ := h1.NewStd(srv.URL, h1.Options{MaxResponseBytes: 150})
		defer s.CloseIdle()
		var resp h1.Response
		for _, keep := range []bool{true, false} {
			if err := s.Do(rawRequest("GET", "x", "/", nil, nil), deadline(), keep, &resp); !errors.Is(err, h1.ErrTooLarge) {
				t.Errorf("keepBody=%v: err = %v, want ErrTooLarge", keep, err)
			}
		}
	})
	t.Run("unparsable request", func(t *testing.T) {
		s, _ := h1.NewStd("http://127.0.0.1:1", h1.Options{})
		var resp h1.Response
		if err := s.Do([]byte("not a request"), deadline(), false, &resp); err == nil {
			t.Error("no error for a raw request net/http cannot parse")
		}
	})
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url     string
		wantStd bool
		bad     bool
	}{
		{url: "http://127.0.0.1:8080"},
		{url: "HTTP://localhost"},
		{url: "https://example.test", wantStd: true},
		{url: "ftp://example.test", bad: true},
		{url: "http://", bad: true},
		{url: "127.0.0.1:8080", bad: true},
	} {
		d, err := h1.New(tc.url, h1.Options{})
		if tc.bad {
			if err == nil {
				t.Errorf("New(%q): no error", tc.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tc.url, err)
			continue
		}
		if _, isStd := d.(*h1.Std); isStd != tc.wantStd {
			t.Errorf("New(%q) = %T", tc.url, d)
		}
	}
}

func TestNewReachesTheServer(t *testing.T) {
	srv, _ := newCountingServer(t, nil)
	d, err := h1.New(srv.URL, h1.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var resp h1.Response
	if err := d.Do(rawRequest("GET", "x", "/hi", nil, nil), deadline(), true, &resp); err != nil || string(resp.Body) != "GET /hi " {
		t.Fatalf("err %v body %q", err, resp.Body)
	}
}
