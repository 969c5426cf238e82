// Package peakload reads a service's daily peak load from a Prometheus
// server for the capacity plan: the network I/O the pure model in
// pkg/capacity does not do.
package peakload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/capacity"
)

// PeaksQuery asks Prometheus for the daily peaks of a query.
type PeaksQuery struct {
	// URL is the Prometheus server (http://127.0.0.1:9090, or a path
	// prefix behind a proxy).
	URL string
	// Query is the load, in QPS, e.g. sum(rate(http_requests_total[5m])).
	Query string
	// Days is how many whole days to fetch, ending at End.
	Days int
	// End is the end of the last day fetched (midnight UTC).
	End time.Time
	// Resolution is the subquery step the day's maximum is taken over
	// (default 5m).
	Resolution time.Duration
}

// PrometheusPeaks fetches the daily peaks of q.Query over q.Days days:
// one query_range with a step of a day, each point max_over_time of the
// query over the day before it (a subquery at q.Resolution). A day the
// query has data for less than 90% of is left out, with a note: its
// maximum may miss the peak (a day has as many points as the median day).
// The query must give one series.
func PrometheusPeaks(ctx context.Context, client *http.Client, q PeaksQuery) ([]capacity.PeakSample, []string, error) {
	if q.Resolution <= 0 {
		q.Resolution = 5 * time.Minute
	}
	if q.Days < 3 {
		return nil, nil, fmt.Errorf("prometheus: a lookback of %d days is too short to fit growth (want at least 3)", q.Days)
	}
	res := promDuration(q.Resolution)
	peaks, err := rangeQuery(ctx, client, q, fmt.Sprintf("max_over_time((%s)[1d:%s])", q.Query, res))
	if err != nil {
		return nil, nil, err
	}
	counts, err := rangeQuery(ctx, client, q, fmt.Sprintf("count_over_time((%s)[1d:%s])", q.Query, res))
	if err != nil {
		return nil, nil, err
	}
	// A whole day has as many points as a typical day (the median): the
	// subquery sees the query's data as densely as it is scraped.
	var cs []float64
	for _, c := range counts {
		cs = append(cs, c)
	}
	sort.Float64s(cs)
	want := 0.0
	if len(cs) > 0 {
		want = cs[len(cs)/2]
	}
	var out []capacity.PeakSample
	partial, bad := 0, 0
	for ts, v := range peaks {
		c := counts[ts]
		switch {
		case c < 0.9*want:
			partial++
			continue
		case !(v > 0) || math.IsInf(v, 0):
			bad++
			continue
		}
		// The point at midnight is the maximum of the day before it.
		out = append(out, capacity.PeakSample{Date: time.Unix(ts, 0).UTC().Add(-24 * time.Hour), PeakQPS: v})
	}
	sortSamples(out)
	var notes []string
	if partial > 0 {
		notes = append(notes, fmt.Sprintf("%d day(s) with data for under 90%% of the day left out of the fit (a partial day's maximum may miss its peak)", partial))
	}
	if bad > 0 {
		notes = append(notes, fmt.Sprintf("%d day(s) whose peak was not a positive number left out", bad))
	}
	if len(out) < 3 {
		return nil, notes, fmt.Errorf("prometheus: %s: %d whole day(s) of data in the last %d days, want at least 3 to fit growth", q.Query, len(out), q.Days)
	}
	return out, notes, nil
}

func sortSamples(s []capacity.PeakSample) {
	sort.Slice(s, func(i, j int) bool { return s[i].Date.Before(s[j].Date) })
}

// promDuration writes d as Prometheus reads durations: 5m, 30s, 1h.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(max(1, int64(d/time.Second)), 10) + "s"
}

// rangeQuery runs one query_range over the days of q, a step of a day,
// and returns its single series by timestamp.
func rangeQuery(ctx context.Context, client *http.Client, q PeaksQuery, expr string) (map[int64]float64, error) {
	u, err := url.Parse(strings.TrimSuffix(q.URL, "/") + "/api/v1/query_range")
	if err != nil {
		return nil, fmt.Errorf("prometheus: %v", err)
	}
	end := q.End.UTC().Truncate(24 * time.Hour)
	form := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(end.Add(-time.Duration(q.Days-1)*24*time.Hour).Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {"86400"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("prometheus: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", u.Redacted(), unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPrometheusAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", u.Redacted(), err)
	}
	if len(body) > MaxPrometheusAnswer {
		return nil, fmt.Errorf("prometheus: %s answered more than %d MiB for %s: one daily series is a few kilobytes a year; aggregate the query to one series (sum(...)) or shorten --lookback", u.Redacted(), MaxPrometheusAnswer>>20, q.Query)
	}
	var doc struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("prometheus: %s answered %s, not the query API's JSON: %.200q", u.Redacted(), resp.Status, body)
	}
	if doc.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s: %s", q.Query, doc.ErrorType, doc.Error)
	}
	switch n := len(doc.Data.Result); {
	case n == 0:
		return nil, fmt.Errorf("prometheus: %s: no data in the last %d days", q.Query, q.Days)
	case n > 1:
		return nil, fmt.Errorf("prometheus: %s gives %d series (e.g. %v); the load must be one: aggregate it, e.g. sum(...)", q.Query, n, doc.Data.Result[0].Metric)
	}
	out := map[int64]float64{}
	for _, pair := range doc.Data.Result[0].Values {
		ts, ok1 := pair[0].(float64)
		vs, ok2 := pair[1].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("prometheus: a sample is not [time, \"value\"]")
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus: sample %q: %v", vs, err)
		}
		out[int64(ts)] = v
	}
	return out, nil
}

// MaxPrometheusAnswer bounds the query answer read: a daily series of ten
// years is about 100 KiB, and decoding costs some twenty times the
// answer's size in memory (a 32 MiB answer took 627 MB), so 4 MiB keeps a
// plan under about 100 MB whatever the server sends.
const MaxPrometheusAnswer = 4 << 20

// unwrapURL keeps a url.Error's cause, whose message repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
