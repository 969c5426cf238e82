package importer_test

import (
	"bytes"
	"mime"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/importer"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// importString imports text in format f and returns the requests.
func importString(t *testing.T, text string, f importer.Format, opts importer.Options) ([]*traffic.Request, *importer.Stats, error) {
	t.Helper()
	var got []*traffic.Request
	st, err := importer.Import(strings.NewReader(text), "in", f, opts, func(r *traffic.Request) error {
		got = append(got, r)
		return nil
	})
	return got, st, err
}

func harWith(entries ...string) string {
	return "{\"log\":{\"version\":\"1.2\",\"entries\":[" + strings.Join(entries, ",") + "]}}"
}

// Params-only bodies are rebuilt for their Content-Type; chrome-har's
// numbers and booleans are read as text; a type that cannot be rebuilt
// from params is refused with the entry's line.
func TestHARParamsBodies(t *testing.T) {
	form := `{"request":{"method":"POST","url":"http://a/f","postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"q","value":"a b"},{"name":"n","value":5},{"name":"ok","value":true},{"name":"z","value":null}]}},"response":{"status":201}}`
	multi := `{"request":{"method":"POST","url":"http://a/m","postData":{"mimeType":"multipart/form-data; boundary=XyZ","params":[{"name":"hello","value":"world"},{"name":"f","value":"data","fileName":"a.txt","contentType":"text/plain"}]}}}`
	multiNoBoundary := `{"request":{"method":"POST","url":"http://a/m2","postData":{"mimeType":"multipart/form-data","params":[{"name":"hello","value":"world"}]}}}`
	got, _, err := importString(t, harWith(form, multi, multiNoBoundary), importer.HAR, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Body != "q=a+b&n=5&ok=true&z=" || got[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" || got[0].Status != 201 {
		t.Errorf("form: body %q, type %q, status %d", got[0].Body, got[0].Header.Get("Content-Type"), got[0].Status)
	}
	for _, r := range got[1:] {
		mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" || mp["boundary"] == "" {
			t.Fatalf("%s: Content-Type %q", r.Path, r.Header.Get("Content-Type"))
		}
		// net/http's reader reads the body with the boundary sent.
		hr, _ := http.NewRequest("POST", "http://a"+r.Path, bytes.NewReader(r.BodyBytes()))
		hr.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		if err := hr.ParseMultipartForm(1 << 20); err != nil {
			t.Fatalf("%s: %v in %q", r.Path, err, r.Body)
		}
		if hr.FormValue("hello") != "world" {
			t.Errorf("%s: hello=%q", r.Path, hr.FormValue("hello"))
		}
		if r.Path == "/m" {
			if mp["boundary"] != "XyZ" {
				t.Errorf("the HAR's boundary was not kept: %q", mp["boundary"])
			}
			f, fh, err := hr.FormFile("f")
			if err != nil || fh.Filename != "a.txt" || fh.Header.Get("Content-Type") != "text/plain" {
				t.Fatalf("file part: %v %+v", err, fh)
			}
			var b bytes.Buffer
			b.ReadFrom(f)
			if b.String() != "data" {
				t.Errorf("file part holds %q", b.String())
			}
		}
	}
	jsonParams := `{"request":{"method":"POST","url":"http://a/j","postData":{"mimeType":"application/json","params":[{"name":"hello","value":"world"}]}}}`
	_, _, err = importString(t, harWith(form, jsonParams), importer.HAR, importer.Options{})
	if err == nil || !strings.Contains(err.Error(), "in:1: request.postData: holds params but no text, and a application/json body cannot be rebuilt") {
		t.Errorf("params under a JSON type: %v", err)
	}
}

// A UTF-8 byte order mark, which the HAR specification says to ignore, is
// skipped for every format.
func TestByteOrderMarkIsSkipped(t *testing.T) {
	for f, text := range map[importer.Format]string{
		importer.HAR:    "\ufeff" + harWith(`{"request":{"method":"GET","url":"http://a/x"}}`),
		importer.Nginx:  "\ufeff" + `1.2.3.4 - - [25/Nov/2026:14:03:07 +0000] "GET /x HTTP/1.1" 200 1 "-" "-"` + "\n",
		importer.Vegeta: "\ufeff" + `{"method":"GET","url":"http://a/x"}` + "\n",
	} {
		got, _, err := importString(t, text, f, importer.Options{})
		if err != nil || len(got) != 1 || got[0].Path != "/x" {
			t.Errorf("%s: %v, %+v", f, err, got)
		}
	}
}

// --host and --path-prefix keep one service of a page that spoke to many;
// every origin is counted for the warning, before filtering.
func TestHostAndPathFilters(t *testing.T) {
	text := harWith(
		`{"request":{"method":"GET","url":"https://api.example.com/v1/a"}}`,
		`{"request":{"method":"GET","url":"https://API.example.com:443/v2/b"}}`,
		`{"request":{"method":"GET","url":"https://cdn.example.net/v1/img.png"}}`,
		`{"request":{"method":"GET","url":"http://api.example.com:8080/v1/c"}}`,
	)
	got, st, err := importString(t, text, importer.HAR, importer.Options{Hosts: []string{"api.example.com"}, PathPrefix: "/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "/v1/a" || got[1].Path != "/v1/c" || st.Filtered != 2 {
		t.Errorf("kept %d (filtered %d): %+v", len(got), st.Filtered, got)
	}
	if len(st.Origins) != 4 || st.TopOrigins(1)[0].Count != 1 {
		t.Errorf("origins %v", st.Origins)
	}
	got, _, _ = importString(t, text, importer.HAR, importer.Options{Hosts: []string{"https://api.example.com:8080"}})
	if len(got) != 1 || got[0].Path != "/v1/c" {
		t.Errorf("host with a port and a scheme: %+v", got)
	}
}

// vegeta's HTTP format: headers, an @body file beside the targets file, a
// Host override and URL credentials kept as vegeta sends them.
func TestVegetaHTTPFormat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/body.json", `{"k":5}`)
	text := "# a comment\nGET http://127.0.0.1:8080/a?x=1\nX-A: 1\nX-A: 2\n\nPOST http://127.0.0.1:8080/p\nContent-Type: application/json\n@body.json\nGET http://h/v\nHost: api.internal\n\nGET http://u:p%40ss@h/s\n"
	got, _, err := importString(t, text, importer.Vegeta, importer.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d targets: %+v", len(got), got)
	}
	if got[0].Path != "/a?x=1" || strings.Join(got[0].Header["X-A"], ",") != "1,2" {
		t.Errorf("target 1: %+v", got[0])
	}
	if got[1].Method != "POST" || got[1].Body != `{"k":5}` || got[1].Header.Get("Content-Type") != "application/json" {
		t.Errorf("target 2: %+v", got[1])
	}
	if got[2].Header.Get("Host") != "api.internal" {
		t.Errorf("target 3 lost its Host: %+v", got[2])
	}
	if got[3].Header.Get("Authorization") != "Basic dTpwQHNz" { // u:p@ss
		t.Errorf("target 4: %+v", got[3])
	}
	_, _, err = importString(t, "GET http://h/a\n@missing.json\n", importer.Vegeta, importer.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "in:1: body: body file missing.json") {
		t.Errorf("missing body file: %v", err)
	}
	_, _, err = importString(t, "GET http://h/a\nnot a header\n", importer.Vegeta, importer.Options{})
	if err == nil || !strings.Contains(err.Error(), "in:1: header:") {
		t.Errorf("bad header: %v", err)
	}
	// Redaction hides the credentials, keeping the header.
	got, _, _ = importString(t, "GET http://u:p@h/s\n", importer.Vegeta, importer.Options{Redactor: traffic.NewRedactor(nil, nil, nil)})
	if got[0].Header.Get("Authorization") != "REDACTED" {
		t.Errorf("credentials kept in clear: %+v", got[0].Header)
	}
}

// nginx's escape=json log lines, with the common variable names, bodies
// and statuses; requests sharing a second are spread across it.
func TestNginxJSONLog(t *testing.T) {
	text := `{"time_iso8601":"2026-11-25T14:03:07+00:00","remote_user":"","request":"POST /v1/predict HTTP/1.1","status":"200","http_user_agent":"curl/8","content_type":"application/json","request_body":"{\"k\":5}","host":"api.example.com"}
{"time_iso8601":"2026-11-25T14:03:07+00:00","remote_user":"alice","request_method":"GET","request_uri":"/v1/items?q=a","status":404}
{"time_iso8601":"2026-11-25T14:03:07+00:00","request":"OPTIONS * HTTP/1.1","status":"400"}
{"time_iso8601":"2026-11-25T14:03:07+00:00","request":"GET /c HTTP/1.1","status":"200"}
{"msec":"1764079388.250","request":"GET /d HTTP/1.1","status":"200"}
`
	got, st, err := importString(t, text, importer.Nginx, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || st.Asterisk != 1 || st.RemoteUser != 1 || st.LogBodies != 1 || st.Spread != 3 {
		t.Fatalf("%d requests, stats %+v", len(got), st)
	}
	if got[0].Body != `{"k":5}` || got[0].Header.Get("Content-Type") != "application/json" || got[0].Status != 200 {
		t.Errorf("line 1: %+v", got[0])
	}
	if got[1].Path != "/v1/items?q=a" || got[1].Status != 404 {
		t.Errorf("line 2: %+v", got[1])
	}
	base := time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)
	for i, r := range got[:3] {
		if want := base.Add(time.Duration(i) * time.Second / 3); !r.TS.Equal(want) {
			t.Errorf("request %d at %v, want %v (spread across the second)", i, r.TS, want)
		}
	}
	if want := time.UnixMilli(1764079388250).UTC(); !got[3].TS.Equal(want) {
		t.Errorf("msec time %v, want %v", got[3].TS, want)
	}
	if st.Origins["http://api.example.com"] != 1 {
		t.Errorf("origins %v", st.Origins)
	}
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
