package record_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/record"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// seen is what a test server received.
type seen struct {
	Method string
	URI    string
	Header http.Header
	Body   []byte
}

// sink is a loopback server that keeps every request it gets.
type sink struct {
	mu  sync.Mutex
	got []seen
	srv *httptest.Server
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		s.mu.Lock()
		s.got = append(s.got, seen{r.Method, r.RequestURI, h, b})
		s.mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("reply to " + r.Method + " " + r.RequestURI))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.got...)
}

const (
	secretBearer = "Bearer s3cr3t-bearer-7f1d"
	secretCookie = "session=c00kie-9a8b"
	secretKey    = "k3y-ab12cd"
	secretPass   = "hunter2-pa55"
	secretToken  = "tok-deep-4455"
	secretCustom = "custom-x-9911"
)

type sent struct {
	method, uri string
	header      map[string]string
	body        []byte
}

func knownRequests() []sent {
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 'x'}
	return []sent{
		{"GET", "/v1/items?q=wireless%20mouse&k=5", map[string]string{"X-Trace": "t-1"}, nil},
		{"POST", "/v1/predict", map[string]string{"Content-Type": "application/json", "Authorization": secretBearer},
			[]byte(`{"query":"usb hub","k":3}`)},
		{"POST", "/v1/login", map[string]string{"Content-Type": "application/json", "Cookie": secretCookie, "X-Api-Key": secretKey, "X-Custom-Secret": secretCustom},
			[]byte(`{"user":"ann","password":"` + secretPass + `","meta":[{"api_token":"` + secretToken + `"}]}`)},
		{"PUT", "/v1/blob/7", map[string]string{"Content-Type": "application/octet-stream"}, bin},
		{"DELETE", "/v1/items/9", nil, nil},
	}
}

func send(t *testing.T, base string, s sent) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequest(s.method, base+s.uri, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func startRecorder(t *testing.T, upstream string, out string, mod func(*record.Options)) (*record.Recorder, *httptest.Server) {
	t.Helper()
	u, _ := url.Parse(upstream)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	opts := record.Options{
		Upstream: u, Out: f, Gzip: strings.HasSuffix(out, ".gz"),
		Redactor: traffic.NewRedactor([]string{"x-custom-secret"}, []string{"password", "api_token"}, nil),
	}
	if mod != nil {
		mod(&opts)
	}
	rec, err := record.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func readAll(t *testing.T, name string) []*traffic.Request {
	t.Helper()
	out, err := traffic.ReadAll(name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rawBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		b, err = io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip stream incomplete (no trailer?): %v", err)
		}
	}
	return b
}

// replay sends a recorded request to base the way a load generator would.
func replay(t *testing.T, base string, r *traffic.Request) {
	t.Helper()
	var body io.Reader
	if b := r.BodyBytes(); len(b) > 0 {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(r.MethodOrGet(), base+r.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestRoundTripThroughRecorderAndReplay(t *testing.T) {
	for _, name := range []string{"traffic.ndjson", "traffic.ndjson.gz"} {
		t.Run(name, func(t *testing.T) {
			up := newSink(t)
			out := filepath.Join(t.TempDir(), name)
			rec, proxy := startRecorder(t, up.srv.URL, out, nil)

			reqs := knownRequests()
			for _, s := range reqs {
				resp, body := send(t, proxy.URL, s)
				// The response comes back unchanged.
				if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Upstream") != "yes" || string(body) != "reply to "+s.method+" "+s.uri {
					t.Fatalf("%s %s: response changed by the proxy: %d %v %q", s.method, s.uri, resp.StatusCode, resp.Header, body)
				}
			}
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			st := rec.Stats()
			if st.Recorded != int64(len(reqs)) || st.Dropped != 0 {
				t.Fatalf("stats = %+v, want %d recorded, 0 dropped", st, len(reqs))
			}

			// The upstream got exactly what the clients sent.
			orig := up.requests()
			for i, s := range reqs {
				if orig[i].Method != s.method || orig[i].URI != s.uri || !bytes.Equal(orig[i].Body, s.body) {
					t.Fatalf("upstream got %s %s %q, client sent %s %s %q", orig[i].Method, orig[i].URI, orig[i].Body, s.method, s.uri, s.body)
				}
				for k, v := range s.header {
					if orig[i].Header.Get(k) != v {
						t.Fatalf("upstream header %s = %q, want %q", k, orig[i].Header.Get(k), v)
					}
				}
			}

			lines := readAll(t, out)
			if len(lines) != len(reqs) {
				t.Fatalf("file holds %d requests, want %d", len(lines), len(reqs))
			}
			for _, l := range lines {
				if l.TS.IsZero() || time.Since(l.TS) > time.Minute {
					t.Errorf("line %d: ts %v is not the recording time", l.Line, l.TS)
				}
			}

			// Replay to a second server: same method, path, headers, body
			// as the original, secrets replaced.
			second := newSink(t)
			for _, l := range lines {
				replay(t, second.srv.URL, l)
			}
			got := second.requests()
			for i := range orig {
				want := orig[i]
				want.Header = want.Header.Clone()
				// The proxy appends the client's address to
				// X-Forwarded-For upstream; the recording keeps what the
				// client sent, which had none.
				want.Header.Del("X-Forwarded-For")
				for _, k := range []string{"Authorization", "Cookie", "X-Api-Key", "X-Custom-Secret"} {
					if want.Header.Get(k) != "" {
						want.Header.Set(k, traffic.Redacted)
					}
				}
				if i == 2 {
					want.Body = []byte(`{"meta":[{"api_token":"REDACTED"}],"password":"REDACTED","user":"ann"}`)
					want.Header.Set("Content-Length", fmt.Sprint(len(want.Body)))
				}
				if got[i].Method != want.Method || got[i].URI != want.URI {
					t.Errorf("replay %d: %s %s, want %s %s", i, got[i].Method, got[i].URI, want.Method, want.URI)
				}
				if !bytes.Equal(got[i].Body, want.Body) {
					t.Errorf("replay %d: body %q, want %q", i, got[i].Body, want.Body)
				}
				if !reflect.DeepEqual(got[i].Header, want.Header) {
					t.Errorf("replay %d: headers\n got %v\nwant %v", i, got[i].Header, want.Header)
				}
			}

			raw := rawBytes(t, out)
			for _, secret := range []string{secretBearer, "s3cr3t-bearer", secretCookie, "c00kie", secretKey, secretPass, secretToken, secretCustom} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("secret %q found in the traffic file", secret)
				}
			}
		})
	}
}

func TestNoRedactKeepsSecrets(t *testing.T) {
	up := newSink(t)
	out := filepath.Join(t.TempDir(), "t.ndjson")
	rec, proxy := startRecorder(t, up.srv.URL, out, func(o *record.Options) { o.Redactor = nil })
	send(t, proxy.URL, knownRequests()[2])
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawBytes(t, out)
	if !bytes.Contains(raw, []byte(secretPass)) || !bytes.Contains(raw, []byte(secretCookie)) {
		t.Fatalf("without redaction the request should be stored as sent: %s", raw)
	}
}

func TestMaxBodyTruncatesAndWithholdsUnredactableBodies(t *testing.T) {
	up := newSink(t)
	out := filepath.Join(t.TempDir(), "t.ndjson")
	rec, proxy := startRecorder(t, up.srv.URL, out, func(o *record.Options) { o.MaxBody = 30 })
	long := bytes.Repeat([]byte("abcdefgh"), 1000)
	send(t, proxy.URL, sent{"POST", "/long", nil, long})
	secretJSON := []byte(`{"user":"ann","password":"` + secretPass + `"}`)
	send(t, proxy.URL, sent{"POST", "/login", nil, secretJSON})
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	// The upstream still got every byte.
	got := up.requests()
	if !bytes.Equal(got[0].Body, long) || !bytes.Equal(got[1].Body, secretJSON) {
		t.Fatal("a long body was not forwarded whole")
	}
	lines := readAll(t, out)
	if !lines[0].Truncated || lines[0].Body != string(long[:30]) {
		t.Errorf("long body stored as %q truncated=%v, want its first 30 bytes, truncated", lines[0].Body, lines[0].Truncated)
	}
	// Truncated JSON cannot be parsed, so its fields cannot be redacted:
	// the body, cut inside the password, must not be kept.
	if bytes.Contains(rawBytes(t, out), []byte("hunt")) || !lines[1].Truncated || lines[1].Body != "" {
		t.Errorf("truncated body naming a redacted field kept: %+v", lines[1])
	}
	if st := rec.Stats(); st.Truncated != 2 || st.Withheld != 1 {
		t.Errorf("stats = %+v, want 2 truncated, 1 withheld", st)
	}
}

func TestSampleRecordsAFraction(t *testing.T) {
	up := newSink(t)
	out := filepath.Join(t.TempDir(), "t.ndjson")
	rec, proxy := startRecorder(t, up.srv.URL, out, func(o *record.Options) { o.Sample = 0.25; o.Seed = 7 })
	const n = 400
	for i := 0; i < n; i++ {
		send(t, proxy.URL, sent{"GET", "/s", nil, nil})
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if len(up.requests()) != n {
		t.Fatalf("upstream got %d requests, want all %d", len(up.requests()), n)
	}
	lines := readAll(t, out)
	if len(lines) < n/8 || len(lines) > n/2 {
		t.Errorf("sample 0.25 of %d recorded %d", n, len(lines))
	}
	if st := rec.Stats(); st.Recorded+st.Skipped != n {
		t.Errorf("stats = %+v: recorded+skipped != %d", st, n)
	}
}

// blockingFile is an output that stalls until released, as a full disk or
// a slow network share would.
type blockingFile struct {
	release chan struct{}
	buf     bytes.Buffer
	once    sync.Once
}

func (b *blockingFile) Write(p []byte) (int, error) {
	<-b.release
	return b.buf.Write(p)
}
func (b *blockingFile) Close() error { b.unblock(); return nil }
func (b *blockingFile) unblock()     { b.once.Do(func() { close(b.release) }) }

func TestSlowWriterDropsInsteadOfBlockingTraffic(t *testing.T) {
	up := newSink(t)
	u, _ := url.Parse(up.srv.URL)
	out := &blockingFile{release: make(chan struct{})}
	rec, err := record.New(record.Options{Upstream: u, Out: out, QueueLen: 4, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(rec)
	defer proxy.Close()
	const n = 50
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, _ := send(t, proxy.URL, sent{"POST", "/x", nil, bytes.Repeat([]byte("y"), 100<<10)})
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("proxying %d requests with a stalled writer took %v", n, d)
	}
	st := rec.Stats()
	if st.Dropped == 0 || st.Dropped > n {
		t.Fatalf("stats = %+v, want some recordings dropped", st)
	}
	out.unblock() // the disk catches up
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	st = rec.Stats()
	if st.Recorded+st.Dropped != n {
		t.Fatalf("stats = %+v: recorded+dropped != %d", st, n)
	}
	lines := 0
	for _, l := range strings.Split(strings.TrimSpace(out.buf.String()), "\n") {
		if l != "" {
			var r traffic.Request
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			lines++
		}
	}
	if int64(lines) != st.Recorded {
		t.Fatalf("file holds %d lines, stats say %d recorded", lines, st.Recorded)
	}
}

func TestFlushesWhileRunning(t *testing.T) {
	up := newSink(t)
	out := filepath.Join(t.TempDir(), "t.ndjson.gz")
	rec, proxy := startRecorder(t, up.srv.URL, out, func(o *record.Options) { o.FlushInterval = 50 * time.Millisecond })
	defer rec.Close()
	send(t, proxy.URL, sent{"GET", "/early", nil, nil})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(out)
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err == nil {
			got, _ := io.ReadAll(zr) // no trailer yet: read what was flushed
			if bytes.Contains(got, []byte(`"/early"`)) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("a recorded request did not reach the file before Close")
}

func TestNewRejectsBadOptions(t *testing.T) {
	f, _ := os.Create(filepath.Join(t.TempDir(), "x"))
	defer f.Close()
	for _, u := range []string{"ftp://x", "127.0.0.1:80", "http://"} {
		pu, _ := url.Parse(u)
		if _, err := record.New(record.Options{Upstream: pu, Out: f}); err == nil {
			t.Errorf("upstream %q accepted", u)
		}
	}
	pu, _ := url.Parse("http://127.0.0.1:1")
	if _, err := record.New(record.Options{Upstream: pu, Out: f, Sample: 1.5}); err == nil {
		t.Error("sample 1.5 accepted")
	}
}
