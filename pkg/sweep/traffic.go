package sweep

import (
	"fmt"
	"io"
	"time"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// trafficInfo is what one validating pass over the traffic file found.
type trafficInfo struct {
	count       int
	first, last time.Time
	// rate is the recording's mean rate (requests per second), 0 without timestamps.
	rate float64
	// span is the recording's length plus one mean gap.
	span time.Duration
}

// scanTraffic validates every line before any request is sent.
func scanTraffic(path string) (trafficInfo, error) {
	var ti trafficInfo
	rd, err := traffic.Open(path)
	if err != nil {
		return ti, fmt.Errorf("traffic: %w", err)
	}
	defer rd.Close()
	haveTS := true
	for {
		req, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return ti, err
		}
		ti.count++
		if req.TS.IsZero() {
			haveTS = false
			continue
		}
		if ti.first.IsZero() || req.TS.Before(ti.first) {
			ti.first = req.TS
		}
		if req.TS.After(ti.last) {
			ti.last = req.TS
		}
	}
	if ti.count == 0 {
		return ti, fmt.Errorf("%s: %w", path, traffic.ErrEmpty)
	}
	if haveTS && ti.count > 1 && ti.last.After(ti.first) {
		d := ti.last.Sub(ti.first)
		ti.rate = float64(ti.count-1) / d.Seconds()
		ti.span = d + time.Duration(float64(d)/float64(ti.count-1))
	}
	return ti, nil
}
