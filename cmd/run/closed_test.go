package run_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	c := cmdRun.NewCmdRun(&cmdutil.Factory{IOStreams: ios, Version: "test"}, nil)
	c.SilenceUsage, c.SilenceErrors = true, true
	c.SetArgs(args)
	err := c.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return cmdutil.CodeOf(err), out.String(), errOut.String()
}

// A closed loop measures raw capacity: against k slots each held S, with
// more connections than slots, it serves k/S, never more, as the test
// harness's own closed loop over net/http finds in the same test; with
// fewer connections than slots it serves connections/S.
func TestClosedLoopServesTheCapacity(t *testing.T) {
	testserver.Serialize(t)
	srv := testserver.NewSlots(8, 20*time.Millisecond) // 400 QPS
	ts := testserver.Start(t, srv)
	ref := testserver.ClosedLoop(context.Background(), ts.URL+"/", 32, 2*time.Second)
	for _, tc := range []struct {
		conns int
		want  float64
	}{{32, srv.Capacity()}, {4, 4 / srv.Service.Seconds()}} {
		code, stdout, stderr := runArgs(t, "--url", ts.URL+"/", "--connections", strconv.Itoa(tc.conns), "--duration", "2s", "--format", "json", "--quiet")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		var c cmdRun.Closed
		if err := json.Unmarshal([]byte(stdout), &c); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		t.Logf("%d connections: %.1f QPS served (analytic %.1f; net/http closed loop at 32: %.1f), p50 %.2f ms", tc.conns, c.QPS, tc.want, ref, c.LatencyMS.P50)
		if c.Errors != 0 || c.QPS > 1.02*tc.want || c.QPS < 0.85*tc.want {
			t.Errorf("%d connections: %.1f QPS, %d errors; want within 85-102%% of %.1f and none", tc.conns, c.QPS, c.Errors, tc.want)
		}
		if tc.conns == 32 && c.QPS < 0.9*ref {
			t.Errorf("%.1f QPS at 32 connections, below 90%% of the %.1f net/http serves in a closed loop", c.QPS, ref)
		}
		if c.LatencyMS.P50 < 19 {
			t.Errorf("p50 %.2f ms, below the 20 ms service time", c.LatencyMS.P50)
		}
	}
	// A closed loop is not a ramp: the flags of a ramp are refused.
	if code, _, stderr := runArgs(t, "--url", ts.URL+"/", "--connections", "4", "--rate", "10"); code != 2 || !strings.Contains(stderr, "--rate") {
		t.Errorf("--connections with --rate: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runArgs(t, "s.yaml", "--duration", "5s"); code != 2 || !strings.Contains(stderr, "--duration goes with") {
		t.Errorf("a scenario with --duration: exit %d, %s", code, stderr)
	}
	// Its traffic is read before anything is sent, as a run's is: a
	// missing file is bad input, named.
	dir := t.TempDir()
	scen := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(scen, []byte("target: {url: "+ts.URL+"}\ntraffic: {file: missing.ndjson}\nload: {steps: [10]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runArgs(t, scen, "--connections", "2", "--duration", "1s"); code != 2 || !strings.Contains(stderr, "traffic.file") {
		t.Errorf("a closed loop with a missing traffic file: exit %d, %s; want 2 naming traffic.file", code, stderr)
	}
}
