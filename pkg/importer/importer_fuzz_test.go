package importer_test

import (
	"bytes"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/importer"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Seeds are also kept in testdata/fuzz/<Fuzz...>/ so plain `go test` runs
// them, crashers found later included. Run a fuzzer with
//
//	go test -run='^$' -fuzz=FuzzAccessLog -fuzztime=20s ./pkg/importer

// checkEmitted asserts what every converter promises: what it emits is a
// valid traffic line that survives a write and a read unchanged.
func checkEmitted(t *testing.T, req *traffic.Request) {
	t.Helper()
	if err := req.Validate(); err != nil {
		t.Fatalf("emitted an invalid request %+v: %v", req, err)
	}
	var buf bytes.Buffer
	w := traffic.NewWriter(nopCloser{&buf}, false)
	if err := w.Write(req); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	back, err := traffic.ParseLine(bytes.TrimSpace(buf.Bytes()))
	if err != nil {
		t.Fatalf("emitted line %s does not parse back: %v", buf.Bytes(), err)
	}
	if back.Path != req.Path || back.MethodOrGet() != req.MethodOrGet() || !bytes.Equal(back.BodyBytes(), req.BodyBytes()) {
		t.Fatalf("round trip changed %+v into %+v", req, back)
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func fuzzImport(t *testing.T, data []byte, f importer.Format) {
	_, _ = importer.Import(bytes.NewReader(data), "fuzz", f, importer.Options{SkipInvalid: true, Redactor: traffic.NewRedactor(nil, []string{"password"}, nil)},
		func(req *traffic.Request) error { checkEmitted(t, req); return nil })
}

func FuzzAccessLog(f *testing.F) {
	f.Add([]byte(`127.0.0.1 - - [25/Nov/2026:14:03:07 +0000] "GET /v1/items?q=a HTTP/1.1" 200 612 "-" "curl/8.5.0"`))
	f.Add([]byte(`10.0.0.8 - - [25/Nov/2026:15:03:08 +0100] "GET /search?q=\x22quoted\x22 HTTP/2.0" 200 12 "-" "-"`))
	f.Add([]byte(`192.0.2.2 - - [10/Oct/2026:13:55:37 -0700] "DELETE http://h/x HTTP/1.1" 204 - "-" "a \"b\" \\"`))
	f.Add([]byte(`1 - - [01/Jan/2026:00:00:00 +0000] "\x16\x03" 400 0`))
	f.Add([]byte(`10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "-" 408 - "-" "-"` + "\n" + `::1 - - [26/Dec/2016:16:16:48 +0200] "OPTIONS * HTTP/1.0" 200 -`))
	f.Add([]byte(`{"time_iso8601":"2026-11-25T14:03:07+00:00","request":"POST /p HTTP/1.1","status":"200","request_body":"{\"password\":\"x\"}","content_type":"application/json","host":"h"}` + "\n" + `{"msec":"1764079388.250","request_method":"GET","request_uri":"/a","args":"q=1","status":404}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, data, importer.Nginx)
		if e, err := importer.ParseLogLine(string(data)); err == nil {
			if req, err := e.TrafficRequest(); err == nil && req.Validate() == nil {
				checkEmitted(t, req)
			}
		}
	})
}

func FuzzHAR(f *testing.F) {
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-11-25T14:03:07Z","request":{"method":"POST","url":"http://h/p?q=1","headers":[{"name":"A","value":"b"}],"postData":{"mimeType":"text/plain","text":"hi"}}}]}}`))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"PUT","url":"https://h/b","postData":{"encoding":"base64","text":"AAEC"}}}]}}`))
	f.Add([]byte(`{"log":{"version":"1.2","entries":[{"request":{"method":"GET","url":"ws:x"}}, 7]}}`))
	f.Add([]byte("{\"log\":{\"entries\":[\n{\"request\":{\"method\":\"GET\",\"url\":\"http://h/\n"))
	f.Add([]byte("\ufeff" + `{"log":{"entries":[{"request":{"method":"POST","url":"http://h/m","postData":{"mimeType":"multipart/form-data; boundary=b","params":[{"name":"n","value":5},{"name":"f","value":"d","fileName":"a\"b.txt"}]}},"response":{"status":404}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, importer.HAR) })
}

func FuzzVegeta(f *testing.F) {
	f.Add([]byte(`{"method":"GET","url":"http://127.0.0.1:8080/v1/items?q=mouse","header":{"X-Trace":["t-1"]}}`))
	f.Add([]byte(`{"method":"POST","url":"http://h/p","body":"eyJwYXNzd29yZCI6InMifQ=="}`))
	f.Add([]byte(`{"method":"PUT","url":"https://h/b","body":"AAEC//4K","header":{"Host":["x"],"":[""]}}`))
	f.Add([]byte(`{"method":"GET","url":"http://h/ok"}` + "\n" + `{"method":1}`))
	f.Add([]byte("# comment\nGET http://u:p@h/a?x=1\nX-A: 1\nHost: api.internal\n\nPOST http://h/p\nContent-Type: text/plain\n@/nonexistent\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, importer.Vegeta) })
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("method,url,body,header:X-Tenant\nPOST,http://h/v1/predict,\"{\"\"q\"\":\"\"a, b\"\"}\",acme\nGET,http://h/health,,\n"))
	f.Add([]byte("path,body\n/a,\"multi\nline\"\n/b,\n"))
	f.Add([]byte("\ufeffPath,Content_Type,Body\n/p?x=1,application/json,\"{\"\"password\"\":\"\"x\"\"}\"\n"))
	f.Add([]byte("url\nnot a url\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, data, importer.CSV)
	})
}

func FuzzOpenAI(f *testing.F) {
	f.Add([]byte(`{"model":"m","prompt":"Say hi","max_tokens":16}` + "\n" + `{"messages":[{"role":"user","content":"hi"}],"stream":false}`))
	f.Add([]byte(`{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-3.5-turbo-0125","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello world!"}],"max_tokens":1000}}`))
	f.Add([]byte(`{"custom_id":"x","method":"GET","url":"/v1/embeddings","body":{}}` + "\n{\"prompt\":1}\n{]"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, importer.OpenAI) })
}

func FuzzShareGPT(f *testing.F) {
	f.Add([]byte(`[{"id":"a","conversations":[{"from":"human","value":"What is a queue?"},{"from":"gpt","value":"A line of waiting things."}]},{"id":"b","conversations":[{"from":"human","value":"one turn"}]}]`))
	f.Add([]byte(`[{"id":"c","conversations":[{"from":"human","value":""},{"from":"gpt","value":"x"}]}, {"conversations": 5}]`))
	f.Add([]byte("[\n{\"conversations\":[{\"from\":\"human\",\"value\":\"\\u00e9t\\u00e9\"},{\"from\":\"gpt\",\"value\":\"\"}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, data, importer.ShareGPT) })
}
