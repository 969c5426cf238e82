package peakload_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/pkg/peakload"
)

// A fake query API: the peaks are 100 + day, the counts 288 a day but 100
// on the first (a partial day); several series when asked for "many".
func fakePrometheus(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" || r.Form.Get("step") != "86400" {
			http.Error(w, "bad request", 400)
			return
		}
		q := r.Form.Get("query")
		if strings.Contains(q, "many") {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[]},{"metric":{"pod":"b"},"values":[]}]}}`)
			return
		}
		if !strings.HasPrefix(q, "max_over_time((load)[1d:5m])") && !strings.HasPrefix(q, "count_over_time((load)[1d:5m])") {
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"unexpected %s"}`, q)
			return
		}
		var start, end int64
		fmt.Sscan(r.Form.Get("start"), &start)
		fmt.Sscan(r.Form.Get("end"), &end)
		var vals []string
		for ts, i := start, 0; ts <= end; ts, i = ts+86400, i+1 {
			v := fmt.Sprint(100 + i)
			if strings.HasPrefix(q, "count") {
				v = "288"
				if i == 0 {
					v = "100"
				}
			}
			vals = append(vals, fmt.Sprintf(`[%d,"%s"]`, ts, v))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(vals, ","))
	}))
}

func TestPrometheusPeaks(t *testing.T) {
	srv := fakePrometheus(t)
	defer srv.Close()
	end := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	q := peakload.PeaksQuery{URL: srv.URL, Query: "load", Days: 10, End: end}
	s, notes, err := peakload.PrometheusPeaks(context.Background(), srv.Client(), q)
	if err != nil {
		t.Fatal(err)
	}
	// Ten days asked; the first is partial and left out, with a note.
	if len(s) != 9 || s[0].PeakQPS != 101 || !s[0].Date.Equal(end.Add(-9*24*time.Hour)) || !s[8].Date.Equal(end.Add(-24*time.Hour)) {
		t.Errorf("samples %v", s)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "1 day(s) with data for under 90%") {
		t.Errorf("notes %q", notes)
	}
	q.Query = "many"
	if _, _, err := peakload.PrometheusPeaks(context.Background(), srv.Client(), q); err == nil || !strings.Contains(err.Error(), "2 series") || !strings.Contains(err.Error(), "sum(") {
		t.Errorf("several series: %v", err)
	}
	q.Query = "rate(x[5m])"
	if _, _, err := peakload.PrometheusPeaks(context.Background(), srv.Client(), q); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("an error from the server: %v", err)
	}
}

// A valid but huge answer (a 32 MiB one cost 627 MB to decode) is refused
// past the 4 MiB bound, before it is decoded, naming the bound.
func TestPrometheusAnswerIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[`))
		point := []byte(`[1764806400,"123.456"],`)
		for n := 0; n < (32<<20)/len(point); n++ { // 32 MiB at most
			if _, err := w.Write(point); err != nil {
				return
			}
		}
		w.Write([]byte(`[1764806400,"1"]]}]}}`))
	}))
	defer srv.Close()
	q := peakload.PeaksQuery{URL: srv.URL, Query: "load", Days: 10, End: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}
	_, _, err := peakload.PrometheusPeaks(context.Background(), srv.Client(), q)
	if err == nil || !strings.Contains(err.Error(), "more than 4 MiB") {
		t.Errorf("error %v, want the 4 MiB bound named", err)
	}
}
