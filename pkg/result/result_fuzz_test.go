package result_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/stats"
)

// FuzzDecode feeds arbitrary bytes to the result.json reader, the schema
// check and the histogram decoder, as compare, report, plan and merge do
// with files users hand them. None may panic; a document Decode accepts
// must survive a write and read back; a histogram that decodes must give
// finite percentiles.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("../report/testdata/result.json"); err == nil {
		f.Add(b)
	}
	h := stats.New()
	for v := int64(1); v < 1e6; v = v*3 + 1 {
		h.RecordValue(v)
	}
	enc, _ := stats.Encode(h)
	f.Add([]byte(`{"schema":"bestbefore.result/v1","name":"x","status":"completed","steps":[{"index":0,"histogram":"` + enc + `","intervals":[{"histogram":"` + enc + `"}]}]}`))
	f.Add([]byte(`{"schema":"bestbefore.result/v1","steps":[{"histogram":"HISTFAAAACR4nJNpmSzMwMDAxIAKGEFEMxhlMRAgXxAAyxwJSg=="}]}`))
	f.Add([]byte(`{"schema":"bestbefore.result/v1","steps":[{"histogram":"not base64!"}]}`))
	f.Add([]byte(`{"schema":"bestbefore.result/v2"}`))
	f.Add([]byte(`{"schema":"bestbefore.result/v1","steps":null,"best_before":{"qps":1e308}}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = result.ValidateJSON(data)
		r, err := result.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, st := range r.Steps {
			checkHistogram(t, st.Histogram)
			checkHistogram(t, st.ServiceHistogram)
			for _, iv := range st.Intervals {
				checkHistogram(t, iv.Histogram)
			}
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a decoded result does not encode: %v", err)
		}
		if _, err := result.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("a decoded result does not read back: %v", err)
		}
	})
}

func checkHistogram(t *testing.T, s string) {
	if len(s) > 1<<16 {
		return
	}
	h, err := stats.Decode(s)
	if err != nil {
		return
	}
	l := result.Summarize(h)
	for _, v := range []float64{l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("histogram %q summarizes to %+v", s, l)
		}
	}
}
