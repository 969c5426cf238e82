package testgrpc

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// GhzVersion is the ghz .ci/run installs (go install
// github.com/bojand/ghz/cmd/ghz@GhzVersion).
const GhzVersion = "v0.120.0"

// GhzReport is what ghz's JSON output says of a run (latencies in ns).
type GhzReport struct {
	Count    int64            `json:"count"`
	RPS      float64          `json:"rps"`
	Average  int64            `json:"average"`
	Slowest  int64            `json:"slowest"`
	Statuses map[string]int64 `json:"statusCodeDistribution"`
	Latency  []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"`
	} `json:"latencyDistribution"`
}

// Percentile is ghz's figure at p (10, 25, 50, 75, 90, 95 or 99).
func (r GhzReport) Percentile(p int) time.Duration {
	for _, l := range r.Latency {
		if l.Percentage == p {
			return time.Duration(l.Latency)
		}
	}
	return 0
}

// GhzPath finds ghz on PATH or in GOPATH/bin; without it the test is
// skipped, except under CI, where it fails.
func GhzPath(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("ghz"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(string(trimNL(gopath)), "bin", "ghz")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("ghz is not installed (.ci/run: go install github.com/bojand/ghz/cmd/ghz@%s)", GhzVersion)
	}
	tb.Skipf("ghz is not installed (go install github.com/bojand/ghz/cmd/ghz@%s)", GhzVersion)
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// GhzRun is one ghz run: Call with Data at Addr, Concurrency workers on
// Connections connections for Duration; RPS > 0 paces it (ghz's --rps),
// else it is a closed loop. Proto names the .proto (in ProtoDir) that
// defines Call; without it ghz asks the server's reflection.
type GhzRun struct {
	Addr, Call, Data, Proto  string
	Concurrency, Connections int
	Duration                 time.Duration
	RPS                      int
}

// Ghz runs ghz and reads its JSON report.
func Ghz(tb testing.TB, r GhzRun) GhzReport {
	tb.Helper()
	args := []string{"--insecure", "--call", r.Call, "-d", r.Data, "-c", strconv.Itoa(max(r.Concurrency, 1)),
		"--connections", strconv.Itoa(max(r.Connections, 1)), "-z", r.Duration.String(), "-O", "json"}
	if r.Proto != "" {
		args = append(args, "--proto", filepath.Join(ProtoDir(), r.Proto), "--import-paths", ProtoDir())
	}
	if r.RPS > 0 {
		args = append(args, "--rps", strconv.Itoa(r.RPS))
	}
	out, err := exec.Command(GhzPath(tb), append(args, r.Addr)...).Output()
	if err != nil {
		tb.Fatalf("ghz %v: %v\n%s", args, err, out)
	}
	var rep GhzReport
	if err := json.Unmarshal(out, &rep); err != nil {
		tb.Fatalf("ghz output: %v\n%s", err, out)
	}
	return rep
}
