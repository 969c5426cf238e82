package target_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/target"
)

// FuzzDecodeRequest checks that no body makes the decoder or the handler
// panic, that accepted requests are valid and that refused ones get a 400
// with a JSON error. Seeds: f.Add below and testdata/fuzz/FuzzDecodeRequest.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"query":"wireless mouse","k":5,"user":"u123"}`,
		`{"query":"pen"}`,
		`{"query":"","k":0}`,
		`{"query":"\u0000\ud800","k":1e3}`,
		`{"query":"x","k":-9223372036854775808}`,
		`[]`, `null`, `"query"`, `{`, ``, `{"query":{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	n, err := target.NewNode(target.Config{Workers: 2, Lookup: time.Microsecond, LookupP99: time.Microsecond, Items: 300})
	if err != nil {
		f.Fatal(err)
	}
	defer n.Close()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := target.DecodeRequest(body)
		if err == nil {
			if strings.TrimSpace(req.Query) == "" || req.K < 1 || req.K > target.MaxK {
				t.Fatalf("accepted an invalid request %+v", req)
			}
		}
		rec := httptest.NewRecorder()
		n.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/predict", strings.NewReader(string(body))))
		switch {
		case err == nil && rec.Code == http.StatusOK:
			var resp target.PredictResponse
			if e := json.Unmarshal(rec.Body.Bytes(), &resp); e != nil || len(resp.Predictions) == 0 || len(resp.Predictions) > req.K {
				t.Fatalf("200 with body %q (%v)", rec.Body.String(), e)
			}
		case err != nil && (rec.Code == http.StatusBadRequest || rec.Code == http.StatusRequestEntityTooLarge):
			var e target.ErrorResponse
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%d without a JSON error: %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("decoder err %v but handler answered %d: %s", err, rec.Code, rec.Body.String())
		}
	})
}
