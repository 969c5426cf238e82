package traffic_test

import (
	"bytes"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// FuzzParseLine feeds arbitrary lines to the traffic line parser: it must
// never panic, and a line it accepts must survive a write and a read
// unchanged. Seeds live in f.Add below and in testdata/fuzz/FuzzParseLine.
//
//	go test -run='^$' -fuzz=FuzzParseLine -fuzztime=20s ./pkg/traffic
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-11-25T14:03:07.123456Z","method":"POST","path":"/v1/predict","header":{"Content-Type":["application/json"]},"body":"{\"query\":\"wireless mouse\",\"k\":5}"}`))
	f.Add([]byte(`{"path":"/b","body_base64":"AAEC//4K","truncated":true}`))
	f.Add([]byte(`{"path":"/","method":"get","header":{"a b":["x"]}}`))
	f.Add([]byte(`{"path":"/x","body":"a","body_base64":"YQ=="}`))
	f.Add([]byte(`{"path":"/\u0000"}`))
	f.Add([]byte(`{"path":7}`))
	f.Add([]byte(`{"ts":"yesterday","path":"/"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := traffic.ParseLine(line)
		if err != nil {
			if req != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		var buf bytes.Buffer
		w := traffic.NewWriter(nopCloser{&buf}, false)
		if err := w.Write(req); err != nil {
			t.Fatalf("accepted line cannot be written: %v", err)
		}
		w.Flush()
		back, err := traffic.ParseLine(bytes.TrimSpace(buf.Bytes()))
		if err != nil {
			t.Fatalf("%s accepted, written as %s, which is rejected: %v", line, buf.Bytes(), err)
		}
		if back.Path != req.Path || back.MethodOrGet() != req.MethodOrGet() || !bytes.Equal(back.BodyBytes(), req.BodyBytes()) ||
			!back.TS.Equal(req.TS) || back.Truncated != req.Truncated || len(back.Header) != len(req.Header) {
			t.Fatalf("round trip changed %+v into %+v", req, back)
		}
	})
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }
