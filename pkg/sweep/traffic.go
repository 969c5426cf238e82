package sweep

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// TrafficInfo is what one validating pass over a traffic file found.
type TrafficInfo struct {
	Count       int
	First, Last time.Time
	// Rate is the recording's mean rate (requests per second), 0 without
	// timestamps on every line.
	Rate float64
	// Span is the recording's length plus one mean gap.
	Span time.Duration
	// Truncated is set for a gzip file cut off before its end: Count
	// holds its complete lines, the partial last one is left out.
	Truncated bool
	// Endpoints are the file's most frequent endpoints (traffic.Endpoint),
	// at most traffic.MaxEndpoints, most frequent first: the groups a
	// run reports by name.
	Endpoints []string
}

// ScanTraffic reads the whole traffic file once, validating every line,
// before any request is sent. It stops with ctx's error when ctx is done.
func ScanTraffic(ctx context.Context, path string) (*TrafficInfo, error) {
	ti := &TrafficInfo{}
	eps := traffic.NewEndpointCounter()
	rd, err := traffic.Open(path)
	if err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	defer rd.Close()
	haveTS := true
	for {
		req, err := rd.Next()
		if err == io.EOF {
			ti.Truncated = rd.Truncated()
			break
		}
		if err != nil {
			return nil, err
		}
		ti.Count++
		eps.Add(req)
		if ti.Count%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if req.TS.IsZero() {
			haveTS = false
			continue
		}
		if ti.First.IsZero() || req.TS.Before(ti.First) {
			ti.First = req.TS
		}
		if req.TS.After(ti.Last) {
			ti.Last = req.TS
		}
	}
	if ti.Count == 0 {
		return nil, fmt.Errorf("%s: %w", path, traffic.ErrEmpty)
	}
	for _, e := range eps.Top(traffic.MaxEndpoints) {
		ti.Endpoints = append(ti.Endpoints, e.Name)
	}
	if haveTS && ti.Count > 1 && ti.Last.After(ti.First) {
		d := ti.Last.Sub(ti.First)
		ti.Rate = float64(ti.Count-1) / d.Seconds()
		ti.Span = d + time.Duration(float64(d)/float64(ti.Count-1))
	}
	return ti, nil
}
