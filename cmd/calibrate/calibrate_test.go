package calibrate_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	cmdCalibrate "github.com/bestbefore/bestbefore/cmd/calibrate"
	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/calibrate"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

// machine keeps its schedule up to limit QPS.
func machine(limit float64) func(context.Context, float64, time.Duration) (calibrate.Trial, error) {
	return func(_ context.Context, rate float64, d time.Duration) (calibrate.Trial, error) {
		t := calibrate.Trial{Requests: int64(rate * d.Seconds()), AchievedQPS: rate, SendLagP50MS: 0.04, SendLagP99MS: 0.4, CPUPercent: 80, CPUPerRequestUS: 18.5}
		if rate > limit {
			t.SendLagP99MS = 3
		}
		return t, nil
	}
}

// run executes the command as a user would, with trials answered by a
// machine that keeps its schedule up to limit QPS, saving to cache.
func run(t *testing.T, limit float64, cache, args string) (string, string, int) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	cmd := cmdCalibrate.NewCmdCalibrate(f, func(ctx context.Context, o *cmdCalibrate.Options) error {
		o.Trial = machine(limit)
		if o.CachePath == "" {
			o.CachePath = cache
		}
		return cmdCalibrate.Run(ctx, o)
	})
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.BadInput(err) })
	err := cmd.Execute()
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cmdutil.CodeOf(err)
}

func TestCalibrate_JSON(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "calibrate.json")
	out, errOut, code := run(t, 9000, cache, "--json --quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		RateQPS         float64 `json:"rate_qps"`
		CPUPerRequestUS float64 `json:"cpu_per_request_us"`
		SendLagP50MS    float64 `json:"send_lag_p50_ms"`
		SendLagP99MS    float64 `json:"send_lag_p99_ms"`
		LimitedBy       string  `json:"limited_by"`
		IncludesServing bool    `json:"includes_serving"`
		Machine         struct {
			GOMAXPROCS int `json:"gomaxprocs"`
		} `json:"machine"`
		Trials []json.RawMessage `json:"trials"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if r.RateQPS < 8550 || r.RateQPS > 9000 || r.LimitedBy != "send_lag" || r.CPUPerRequestUS != 18.5 || r.SendLagP99MS != 0.4 || r.SendLagP50MS != 0.04 {
		t.Errorf("report %+v", r)
	}
	if !r.IncludesServing || r.Machine.GOMAXPROCS < 1 || len(r.Trials) < 5 {
		t.Errorf("report %+v", r)
	}
	if errOut != "" {
		t.Errorf("--quiet wrote on stderr: %q", errOut)
	}
	saved := calibrate.Cached(cache, calibrate.CurrentMachine())
	if saved == nil || saved.RateQPS != r.RateQPS {
		t.Errorf("cache holds %+v, want the %v QPS just measured", saved, r.RateQPS)
	}
}

func TestCalibrate_Text(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "calibrate.json")
	out, errOut, code := run(t, 3000, cache, "--max 5000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"generates 3000", "QPS on schedule", "18.5 µs", "p99 0.400ms", "include serving", "same process", "went over 1ms", "Saved to " + cache} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "4000 QPS") || !strings.Contains(errOut, "FAIL send lag") {
		t.Errorf("stderr lacks the trials:\n%s", errOut)
	}
}

func TestCalibrate_NoSave(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "calibrate.json")
	out, errOut, code := run(t, 1e9, cache, "--no-save --max 2000 -q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "Saved") || calibrate.Cached(cache, calibrate.CurrentMachine()) != nil {
		t.Errorf("--no-save saved:\n%s", out)
	}
	if !strings.Contains(out, "highest rate tried (--max) passed") {
		t.Errorf("stdout does not say the ceiling was --max:\n%s", out)
	}
}

// A machine that cannot keep even the lowest rate on schedule exits 3.
func TestCalibrate_NoRate(t *testing.T) {
	_, errOut, code := run(t, 0, filepath.Join(t.TempDir(), "c.json"), "-q")
	if code != cmdutil.ExitRunFailed || !strings.Contains(errOut, "cannot generate load on schedule") {
		t.Errorf("exit %d, stderr %q; want 3 and the reason", code, errOut)
	}
}

func TestCalibrate_BadFlags(t *testing.T) {
	for _, args := range []string{
		"--duration 10ms",
		"--max 1",
		"--start 0",
		"--max-send-lag 0s",
		"--duration 5s --budget 2s",
		"--max abc",
	} {
		_, errOut, code := run(t, 1e9, filepath.Join(t.TempDir(), "c.json"), args)
		if code != cmdutil.ExitBadInput {
			t.Errorf("%s: exit %d (%s), want 2", args, code, errOut)
		}
	}
}
