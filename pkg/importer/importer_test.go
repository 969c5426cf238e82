package importer_test

import (
	"bytes"
	"encoding/json"
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

func importAll(t *testing.T, path string, f importer.Format, opts importer.Options) ([]*traffic.Request, *importer.Stats, error) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out []*traffic.Request
	st, err := importer.Import(in, path, f, opts, func(r *traffic.Request) error { out = append(out, r); return nil })
	return out, st, err
}

// OpenAI-style request lines become streamed completions: plain bodies
// to the path their fields name, Batch API lines to their url; model and
// max_tokens kept, stream and the usage object asked for.
func TestImportOpenAI(t *testing.T) {
	reqs, st, err := importAll(t, "testdata/openai.jsonl", importer.OpenAI, importer.Options{Model: "fallback"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 3 || len(reqs) != 3 {
		t.Fatalf("read %d, wrote %d", st.Read, len(reqs))
	}
	for i, want := range []struct{ path, model, maxTokens string }{
		{importer.CompletionsPath, `"bestbefore-tiny"`, "48"},
		{importer.ChatCompletionsPath, `"bestbefore-tiny"`, "32"},
		{importer.ChatCompletionsPath, `"gpt-3.5-turbo-0125"`, "1000"},
	} {
		r := reqs[i]
		var body map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatal(err)
		}
		if r.Method != "POST" || r.Path != want.path || string(body["model"]) != want.model || string(body["max_tokens"]) != want.maxTokens ||
			string(body["stream"]) != "true" || string(body["stream_options"]) != `{"include_usage":true}` || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("line %d: %s %s %s", i+1, r.Method, r.Path, r.Body)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt":"ok"}`+"\n\n"+`{"custom_id":"r","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}`+"\n"), 0o644)
	_, _, err = importAll(t, bad, importer.OpenAI, importer.Options{})
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:3: url:") {
		t.Errorf("an embeddings line: %v", err)
	}
}

// A ShareGPT-style data set: each conversation of two turns or more is a
// chat completion of its first turn asking for its second turn's length
// in tokens; shorter ones are left out, counted.
func TestImportShareGPT(t *testing.T) {
	reqs, st, err := importAll(t, "testdata/sharegpt.json", importer.ShareGPT, importer.Options{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 4 || st.OneTurn != 2 || len(reqs) != 2 {
		t.Fatalf("read %d, one-turn %d, wrote %d", st.Read, st.OneTurn, len(reqs))
	}
	var body struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
		Messages  []struct{ Role, Content string }
	}
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	answer := "Ramp the load in steps, hold each long enough to see whether the queue grows, and take the highest step that kept every objective."
	if reqs[0].Path != importer.ChatCompletionsPath || body.Model != "m" || !body.Stream || len(body.Messages) != 1 ||
		body.Messages[0].Content != "How do I know how much load my service can take?" || body.MaxTokens != traffic.EstimateTokens(answer) {
		t.Errorf("first conversation became %s %s", reqs[0].Path, reqs[0].Body)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("[\n{\"conversations\":[{\"from\":\"human\",\"value\":\"a\"},{\"from\":\"gpt\",\"value\":\"b\"}]},\n{\"conversations\": 5}\n]"), 0o644)
	_, _, err = importAll(t, bad, importer.ShareGPT, importer.Options{})
	if err == nil || !strings.Contains(err.Error(), "bad.json:3") {
		t.Errorf("a conversation of the wrong type: %v", err)
	}
}
