package record_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/record"
)

// The proxy forwards requests and responses as they are, hop-by-hop
// fields aside: a client talking to the upstream through `record` sees
// the same status, header fields and body bytes as talking to it directly,
// and the upstream sees the client's own fields (no Accept-Encoding the
// client never sent), with the client's address appended to
// X-Forwarded-For.
func TestProxyIsTransparent(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"item":"wireless mouse","score":0.97}`), 200)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain)
	zw.Close()

	var mu sync.Mutex
	var seenAE, seenXFF []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenAE = append(seenAE, r.Header.Get("Accept-Encoding"))
		seenXFF = append(seenXFF, r.Header.Get("X-Forwarded-For"))
		mu.Unlock()
		h := w.Header()
		h.Set("ETag", `"v1-abc"`)
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "max-age=60")
		h.Set("Date", "Thu, 03 Dec 2026 12:00:00 GMT")
		body := plain
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			h.Set("Vary", "Accept-Encoding")
			body = zipped.Bytes()
		}
		h.Set("Content-Length", itoa(len(body)))
		w.Write(body)
	}))
	defer up.Close()
	_, proxy := startRecorder(t, up.URL, filepath.Join(t.TempDir(), "t.ndjson"), nil)

	// A client that neither asks for compression on its own nor undoes it.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(base, ae, xff string) (*http.Response, [32]byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/items?q=mouse", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, sha256.Sum256(b)
	}
	for _, ae := range []string{"", "gzip"} {
		direct, dsum := get(up.URL, ae, "")
		via, vsum := get(proxy.URL, ae, "")
		if dsum != vsum {
			t.Errorf("Accept-Encoding %q: body differs through the proxy", ae)
		}
		if direct.StatusCode != via.StatusCode || direct.ContentLength != via.ContentLength ||
			!reflect.DeepEqual(direct.TransferEncoding, via.TransferEncoding) {
			t.Errorf("Accept-Encoding %q: status/length/TE %d %d %v direct, %d %d %v via the proxy", ae,
				direct.StatusCode, direct.ContentLength, direct.TransferEncoding, via.StatusCode, via.ContentLength, via.TransferEncoding)
		}
		if d, v := fields(direct.Header), fields(via.Header); !reflect.DeepEqual(d, v) {
			t.Errorf("Accept-Encoding %q: header fields differ\n direct %v\n proxy  %v", ae, d, v)
		}
	}
	get(proxy.URL, "", "10.0.0.1")
	mu.Lock()
	defer mu.Unlock()
	// Requests 1 and 3 went through the proxy without Accept-Encoding.
	if seenAE[1] != "" {
		t.Errorf("upstream saw Accept-Encoding %q the client never sent", seenAE[1])
	}
	if seenAE[3] != "gzip" {
		t.Errorf("upstream saw Accept-Encoding %q, the client sent gzip", seenAE[3])
	}
	if seenXFF[1] != "127.0.0.1" || seenXFF[4] != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For upstream: %q and %q, want 127.0.0.1 and 10.0.0.1, 127.0.0.1", seenXFF[1], seenXFF[4])
	}
}

// An upstream that accepts and never answers does not hold the client
// forever: past the upstream timeout the client gets 504.
func TestProxyUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer up.Close()
	defer close(release)
	_, proxy := startRecorder(t, up.URL, filepath.Join(t.TempDir(), "t.ndjson"), func(o *record.Options) {
		o.UpstreamTimeout = 300 * time.Millisecond
	})
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(proxy.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}
}

// fields lists a response's header fields as name: value lines, less the
// Date (which a proxy may set anew) and hop-by-hop fields.
func fields(h http.Header) []string {
	var out []string
	for k, vs := range h {
		switch k {
		case "Connection", "Keep-Alive":
			continue
		}
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
