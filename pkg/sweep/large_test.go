package sweep_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// peakRSSMB is the process's peak resident memory so far (VmHWM).
func peakRSSMB(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// A 1-million-line traffic file is validated and replayed with bounded
// memory: the file is streamed, and only a bounded share of it is kept
// prepared. Behind a flag because writing the file takes a while:
//
//	BESTBEFORE_LARGE=1 go test -run TestReplayMillionLines -v ./pkg/sweep
func TestReplayMillionLines(t *testing.T) {
	if os.Getenv("BESTBEFORE_LARGE") == "" {
		t.Skip("set BESTBEFORE_LARGE=1 to replay a 1-million-line traffic file")
	}
	path := filepath.Join(t.TempDir(), "large.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(w, `{"method":"POST","path":"/v1/predict?i=%d","header":{"Content-Type":["application/json"]},"body":"{\"query\":\"item number %d and some words\",\"k\":10,\"user\":\"u%d\"}"}`+"\n", i, i, i%5000)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	srv := testserver.NewSlots(256, time.Millisecond)
	ts := testserver.Start(t, srv)
	s := loadScenario(t, fmt.Sprintf(`
target: {url: %s}
traffic: {file: x, order: shuffle}
load: {steps: [4000], step_duration: 15s, warmup: 1s}
monitor: {max_send_lag: 50ms}
`, ts.URL))
	before := peakRSSMB(t)
	r, err := sweep.Run(context.Background(), sweep.Config{Scenario: s, TargetURLs: []string{ts.URL}, TrafficPath: path})
	if err != nil {
		t.Fatal(err)
	}
	peak := peakRSSMB(t)
	t.Logf("file %d MB, %d requests replayed at %.0f QPS, peak RSS %.1f MB before the run, %.1f MB after",
		st.Size()>>20, r.Steps[0].Requests, r.Steps[0].AchievedQPS, before, peak)
	if peak > 100 {
		t.Errorf("peak RSS %.1f MB replaying a %d MB file, want under 100 MB", peak, st.Size()>>20)
	}
}
