package importer_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/importer"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// convert imports a testdata file and returns the traffic lines it gives.
func convert(t *testing.T, in string, f importer.Format, opts importer.Options) ([]byte, *importer.Stats, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.ndjson")
	st, err := importer.ImportFile(filepath.Join("testdata", in), out, f, opts)
	if err != nil {
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("a failed import left %s behind", out)
		}
		return nil, st, err
	}
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return b, st, nil
}

func TestImportGolden(t *testing.T) {
	cases := []struct {
		in      string
		format  importer.Format
		written int
	}{
		{"nginx.log", importer.Nginx, 4},
		{"apache.log", importer.Apache, 3},
		{"sample.har", importer.HAR, 3},
		{"vegeta.jsonl", importer.Vegeta, 3},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, st, err := convert(t, c.in, c.format, importer.Options{Redactor: traffic.NewRedactor(nil, nil, nil)})
			if err != nil {
				t.Fatal(err)
			}
			if st.Written != c.written || st.Skipped != 0 {
				t.Errorf("stats %+v, want %d written", st, c.written)
			}
			// Every line is a valid traffic line.
			r, _ := traffic.NewReader(bytes.NewReader(got), c.in+".out")
			for n := 0; ; n++ {
				if _, err := r.Next(); err != nil {
					if n != c.written || err.Error() != "EOF" {
						t.Fatalf("output line %d: %v", n+1, err)
					}
					break
				}
			}
			golden := filepath.Join("testdata", c.in+".golden.ndjson")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n got %s\nwant %s", golden, got, want)
			}
			for _, secret := range []string{"har-secret-1", "vegeta-secret"} {
				if bytes.Contains(got, []byte(secret)) {
					t.Errorf("secret %q imported", secret)
				}
			}
		})
	}
}

func TestImportErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		in      string
		format  importer.Format
		wantErr string
		// with --skip-invalid
		written, skipped int
	}{
		{"nginx_bad.log", importer.Nginx, "testdata/nginx_bad.log:2: request: ", 2, 2},
		{"bad_url.har", importer.HAR, `testdata/bad_url.har:3: request.url: "ws:relative" is not an http(s) URL`, 2, 1},
		{"truncated.har", importer.HAR, "testdata/truncated.har:4: not a HAR file: ", 0, 0},
		{"vegeta_bad.jsonl", importer.Vegeta, "testdata/vegeta_bad.jsonl:2: body: not valid base64", 2, 1},
		{"sample.har", importer.Nginx, "testdata/sample.har:1: malformed JSON log line: unexpected end of JSON input: this looks like a HAR archive; import it with --from har", 0, 0},
		{"nginx.log", importer.HAR, "testdata/nginx.log:1: not a HAR file", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.in+"/"+string(c.format), func(t *testing.T) {
			_, _, err := convert(t, c.in, c.format, importer.Options{})
			var le *traffic.LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LineError", err)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, c.wantErr)
			}
			_, st, err := convert(t, c.in, c.format, importer.Options{SkipInvalid: true})
			if c.written == 0 {
				if err == nil {
					t.Fatal("skip-invalid import of an unusable file succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Written != c.written || st.Skipped != c.skipped || len(st.Errors) != c.skipped {
				t.Fatalf("skip-invalid stats %+v, want %d written %d skipped", st, c.written, c.skipped)
			}
		})
	}
}

func TestParseLogLineFields(t *testing.T) {
	e, err := importer.ParseLogLine(`::1 - - [01/Jan/2026:00:00:00 +0200] "GET /a%20b?x=\"y\" HTTP/1.1" 200 5 "-" "ua\x0aline"`)
	if err != nil {
		t.Fatal(err)
	}
	req, err := e.TrafficRequest()
	if err != nil {
		t.Fatal(err)
	}
	if req.Path != `/a%20b?x=%22y%22` || req.TS.Hour() != 22 || req.Header.Get("User-Agent") != "ua line" || req.Header.Get("Referer") != "" {
		t.Fatalf("got %+v", req)
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := importer.ParseFormat("HAR"); err != nil || f != importer.HAR {
		t.Fatal(f, err)
	}
	if _, err := importer.ParseFormat("jmeter"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// A CSV of requests with a header line imports as spreadsheets write it:
// quoted bodies with commas, quotes and line breaks, headers as
// header:NAME columns, secrets redacted; a bad row is named by its line.
func TestImportCSV(t *testing.T) {
	in := "method,url,body,header:X-Tenant,content_type\n" +
		"POST,http://api.example/v1/predict,\"{\"\"query\"\":\"\"a, b\"\",\n\"\"password\"\":\"\"hunter2\"\"}\",acme,application/json\n" +
		"get,http://api.example/health?x=1,,,\n"
	var got []*traffic.Request
	st, err := importer.Import(strings.NewReader(in), "reqs.csv", importer.CSV, importer.Options{Redactor: traffic.NewRedactor(nil, []string{"password"}, nil)},
		func(r *traffic.Request) error { got = append(got, r); return nil })
	if err != nil || st.Written != 2 || len(got) != 2 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	p := got[0]
	if p.Method != "POST" || p.Path != "/v1/predict" || p.Header.Get("X-Tenant") != "acme" || p.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(p.BodyBytes()), `"query":"a, b"`) || strings.Contains(string(p.BodyBytes()), "hunter2") {
		t.Errorf("first row: %+v body %s", p, p.BodyBytes())
	}
	if g := got[1]; g.MethodOrGet() != "GET" || g.Path != "/health?x=1" {
		t.Errorf("second row: %+v", g)
	}
	for _, tc := range []struct{ in, want string }{
		{"method,link\nGET,http://h/\n", "reqs.csv:1: link: unknown column"},
		{"method,body\nGET,x\n", "must name a url or a path column"},
		{"url,body\nhttp://h/a,1\nftp://h/b,2\n", "reqs.csv:3: url: \"ftp://h/b\" is not an http(s) URL"},
		{"path\n/a\n/b,extra\n", "reqs.csv:3: CSV: wrong number of fields"},
	} {
		_, err := importer.Import(strings.NewReader(tc.in), "reqs.csv", importer.CSV, importer.Options{}, func(*traffic.Request) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.in, err, tc.want)
		}
	}
	// Given to run as a traffic file, a CSV names the converter.
	if h := traffic.Sniff([]byte("method,url,body")).Hint("reqs.csv"); !strings.Contains(h, "traffic import --from csv reqs.csv") {
		t.Errorf("hint %q", h)
	}
}
