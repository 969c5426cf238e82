// Package run is the `bestbefore run` command.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/process"
	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/probe"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/pkg/shard"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// Options holds the flags of `run`.
type Options struct {
	// Connections, when set, measures the target's raw capacity in a
	// closed loop of that many connections instead of ramping.
	Connections int
	IO          *iostreams.IOStreams
	Version     string
	Scenario    string
	OutDir      string
	Force       bool
	Set         []string
	Quiet       bool
	Format      string
	AllowPublic bool
	Traffic     string
	// Shard ("i/n") and StartAt (RFC 3339 or +30s) make the run one shard
	// of a distributed run; ShardSpec and StartAtTime hold them parsed.
	Shard       string
	StartAt     string
	ShardSpec   shard.Spec
	StartAtTime time.Time
	// Repeat, when at least 1, runs the scenario that many times into
	// OUT/rep-01, OUT/rep-02, ... (see RunRepeat).
	Repeat int
	// OneLine, with a URL, builds the scenario from flags instead of a file.
	OneLine OneLine
	// ProgressInterval is how often a running step is reported when stderr
	// is not a terminal (0: 10 s; negative: only finished steps).
	ProgressInterval time.Duration
}

// NewCmdRun builds `run`; runF replaces the action in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	var seed int64
	var pids []int
	var processName string
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml | run --url URL",
		Short: "Run a scenario: ramp the load, find the best-before QPS, write result.json and reports",
		Long: `Point it at a URL, or give it a scenario file:

  bestbefore run --url http://127.0.0.1:8080/v1/predict            # ramp search, default objectives
  bestbefore run --url URL --rate 500 --duration 30s               # one fixed-rate step
  bestbefore run --url URL --max-qps 2000 --slo p99=100ms,errors=0.1%
  bestbefore run --url URL --traffic recorded.ndjson.gz             # a traffic file without a scenario
  bestbefore run --url URL --method POST --header 'Content-Type: application/json' --body @q.json
  bestbefore run --url URL --max-qps 800 --print-scenario > my.yaml # the scenario it stands for
  bestbefore run --url URL --process-name gunicorn                  # and watch the target's CPU, memory
  bestbefore run --url https://127.0.0.1:8443/v1/predict --protocol h2 --ca-file ca.pem   # HTTP/2 over TLS
  bestbefore run --url grpc://127.0.0.1:50051 --call helloworld.Greeter/SayHello --data '{"name":"a"}' --rate 200   # gRPC, the service from its reflection
  bestbefore run --url URL --connections 64 --duration 10s          # raw capacity: a closed loop, as wrk -c

--url builds the scenario in memory with a file's defaults: the URL's
scheme and host are the target, its path and query (or --traffic) the
traffic; --rate R --duration D is one step (default 30s), otherwise a ramp
in ten steps to --max-qps (default 1000). --slo sets objectives:
  ` + strings.Join(SLONames(), ", ") + `
--print-scenario writes the scenario as YAML instead of running it, so a
one-liner grows into a file. --set overrides any key, as with a file.

--connections N measures raw capacity instead, as wrk -c or k6's virtual
users do: N connections each send the next request when the last is
answered, for --duration (default 10s) after the scenario's warmup. It
prints what the target served; nothing is judged or written. Its latency
is from each request's actual send and leaves out the queue open-loop
arrivals would meet: the ramp, not the closed loop, finds a best-before.

Run replays the scenario's traffic at a ramping, open-loop rate. Each step
sends requests at their intended times whatever the target does, measures
latency from those times, and is judged against the scenario's objectives.
The best-before QPS is the highest rate that met them all.

Results go to DIR/result.json, DIR/report.md and DIR/report.html.
Ctrl-C stops sending, waits for the requests in flight and still writes
the partial result (exit 130).

--repeat K runs the scenario K times into OUT/rep-01 ... OUT/rep-K and prints
the spread of the best-before QPS; bestbefore compare reads OUT as K samples.

Before any request is sent the scenario is validated, the whole traffic
file is read, and every target is resolved and dialled. Targets outside
loopback and private address ranges need --allow-public. If 'bestbefore
calibrate' has measured this machine, run warns when the ramp goes above
what it can generate on schedule.

Exit codes: 0 done (also when abort_on stopped the run: see the status in
result.json), 2 bad input, 3 the run could not be carried out,
130 interrupted.`,
		Example: `  bestbefore run scenarios/demo.yaml
  bestbefore run my.yaml --set load.max_qps=800 --out reports/today
  bestbefore run my.yaml --format json | jq .best_before`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 1 && opts.OneLine.URL != "":
				return cmdutil.BadInputf("give a scenario file or --url, not both")
			case len(args) == 1:
				opts.Scenario = args[0]
			case opts.OneLine.URL == "":
				return cmdutil.BadInputf("run needs a scenario file, or --url URL (bestbefore run --help shows both)")
			}
			if opts.ProgressInterval == 0 && cmd.Flags().Changed("progress-interval") {
				opts.ProgressInterval = -1 // 0s asked for: none
			}
			if opts.OneLine.URL == "" {
				for _, f := range []string{"method", "header", "body", "rate", "max-qps", "slo", "protocol", "ca-file", "print-scenario", "call", "data", "protoset", "proto", "import-path"} {
					if cmd.Flags().Changed(f) {
						return cmdutil.BadInputf("--%s goes with --url; a scenario file says it in its keys (--set)", f)
					}
				}
			}
			if opts.OneLine.URL == "" && cmd.Flags().Changed("duration") && !cmd.Flags().Changed("connections") {
				return cmdutil.BadInputf("--duration goes with --url --rate (a fixed-rate step) or --connections (a closed loop); a scenario's steps are load.step_duration (--set)")
			}
			if cmd.Flags().Changed("seed") {
				if seed <= 0 {
					return cmdutil.BadInputf("--seed must be a positive integer, got %d", seed)
				}
				opts.Set = append(opts.Set, fmt.Sprintf("seed=%d", seed))
			}
			if opts.OneLine.URL == "" && opts.OneLine.Name != "" {
				opts.Set = append(opts.Set, fmt.Sprintf("name=%q", opts.OneLine.Name))
			}
			if err := watchFlags(cmd.Context(), opts, pids, processName); err != nil {
				return err
			}
			if opts.Format != "text" && opts.Format != "json" {
				return cmdutil.BadInputf("--format must be text or json, got %q", opts.Format)
			}
			if err := parseShardFlags(opts, time.Now()); err != nil {
				return err
			}
			if err := checkRepeatFlags(opts, cmd.Flags().Changed("repeat")); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if cmd.Flags().Changed("connections") {
				for _, f := range []string{"rate", "max-qps", "slo", "repeat", "out", "force", "shard", "start-at"} {
					if cmd.Flags().Lookup(f) != nil && cmd.Flags().Changed(f) {
						return cmdutil.BadInputf("--connections measures raw capacity in a closed loop: it takes no --%s", f)
					}
				}
				if opts.Connections < 1 || opts.Connections > 100000 {
					return cmdutil.BadInputf("--connections must be between 1 and 100000, got %d", opts.Connections)
				}
				return runClosed(cmd.Context(), opts)
			}
			if opts.Repeat > 0 {
				return RunRepeat(cmd.Context(), opts, Wiring{})
			}
			return Run(cmd.Context(), opts, Wiring{})
		},
	}
	cmd.Flags().StringVarP(&opts.OutDir, "out", "o", "", "directory for result.json and reports (default a fresh reports/<name>-<time>); locked while the run writes there")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace the result an --out directory already holds (without it, such a directory is refused)")
	cmd.Flags().IntSliceVar(&pids, "pid", nil, "watch the target process `PID` (CPU, memory, threads per step; repeatable, or 12,34); same as --set monitor.pids=[PID]")
	cmd.Flags().StringVar(&processName, "process-name", "", "watch the target processes named `NAME` exactly (e.g. gunicorn, java); same as --set monitor.process_name=NAME")
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "override a scenario key, e.g. --set load.max_qps=800 (repeatable)")
	cmd.Flags().Int64Var(&seed, "seed", 0, "seed of the arrival schedule and shuffle order, to replay a run (its result.json's manifest.seed); default: the scenario's seed, else a fresh one each run")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress output on stderr")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "summary on stdout: text or json")
	cmdutil.FixedValues(cmd, "format", "text", "json")
	cmd.Flags().BoolVar(&opts.AllowPublic, "allow-public", false, "allow targets outside loopback and private address ranges")
	cmd.Flags().StringVar(&opts.Traffic, "traffic", "", "replay this traffic file instead of the scenario's")
	cmd.Flags().IntVarP(&opts.Connections, "connections", "c", 0, "measure raw capacity instead: a closed loop of `N` connections, each sending its next request when its last is answered, for --duration (default 10s); prints what the target served")
	cmd.Flags().StringVar(&opts.Shard, "shard", "", "run shard `i/n` (e.g. 2/3; job/3 in a Kubernetes Indexed Job takes i from JOB_COMPLETION_INDEX+1): 1/n of each step's rate and of the traffic lines, on the fixed ramp plan; merge the shards with bestbefore merge")
	cmd.Flags().IntVar(&opts.Repeat, "repeat", 0, "run the scenario `K` times into OUT/rep-01 ... OUT/rep-K, a directory compare reads as K samples")
	cmd.Flags().StringVar(&opts.StartAt, "start-at", "", "with --shard: when the plan starts, the same on every shard (RFC 3339, or +30s from now, resolved to the next whole second so that shards started together within a second agree)")
	cmd.Flags().DurationVar(&opts.ProgressInterval, "progress-interval", runner.DefaultProgressInterval, "when stderr is not a terminal (a CI log), print a running step's figures this often (0s: only finished steps)")
	ol := &opts.OneLine
	cmd.Flags().StringVar(&ol.URL, "url", "", "run against this URL without a scenario file")
	cmd.Flags().StringVar(&ol.Method, "method", "GET", "with --url: the request's method")
	cmd.Flags().StringArrayVar(&ol.Headers, "header", nil, "with --url: a request header, \"Name: value\" (repeatable)")
	cmd.Flags().StringVar(&ol.Body, "body", "", "with --url: the request body, or @FILE (makes the method POST unless --method)")
	cmd.Flags().Float64Var(&ol.Rate, "rate", 0, "with --url: one step at this fixed rate (QPS), for --duration")
	cmd.Flags().StringVar(&ol.Duration, "duration", "", "with --url --rate: how long the step lasts (default 30s)")
	cmd.Flags().Float64Var(&ol.MaxQPS, "max-qps", 0, "with --url: ramp in ten steps to this rate (default 1000)")
	cmd.Flags().StringVar(&ol.SLO, "slo", "", "with --url: objectives, e.g. p99=100ms,errors=0.1%")
	cmd.Flags().StringVar(&ol.Protocol, "protocol", "", "with --url: "+strings.Join(h1.Protocols, ", ")+" (default http1; h2 needs https://, h2c is HTTP/2 in the clear)")
	cmdutil.FixedValues(cmd, "protocol", h1.Protocols...)
	cmd.Flags().StringVar(&ol.Call, "call", "", "with a grpc:// --url: the method to call, `package.Service/Method`")
	cmd.Flags().StringVar(&ol.Data, "data", "", "with --call: the request message in protobuf JSON, or @FILE")
	cmd.Flags().StringVar(&ol.Protoset, "protoset", "", "with a grpc:// --url: the descriptors, a FileDescriptorSet (protoc --descriptor_set_out --include_imports); default: the server's reflection")
	cmd.Flags().StringArrayVar(&ol.Protos, "proto", nil, "with a grpc:// --url: a .proto file defining the service (repeatable), found in --import-path")
	cmd.Flags().StringArrayVar(&ol.ImportPaths, "import-path", nil, "with --proto: a directory .proto files and their imports are found in (repeatable; default .)")
	cmd.Flags().StringVar(&ol.CAFile, "ca-file", "", "with --url: PEM authorities an https:// target's certificate must chain to (default: the system's)")
	cmd.Flags().StringVar(&ol.Name, "name", "", "the run's name, what history files it under (default: a scenario's name; for --url, its method, host:port, path and a hash of its body)")
	cmd.Flags().BoolVar(&ol.Print, "print-scenario", false, "with --url: write the scenario as YAML on stdout instead of running it")
	return cmd
}

// Wiring lets other commands (demo) and tests supply the parts `run`
// composes: embedded scenarios, the bundled target, monitors, reports.
type Wiring struct {
	Options func(*runner.Options)
	Summary func(w io.Writer, o *runner.Outcome) error
}

// Run carries out the run and maps the outcome to an exit code.
func Run(ctx context.Context, opts *Options, w Wiring) error {
	ios := opts.IO
	ctx, abort, stop := cmdutil.Interrupts(ctx, ios.ErrOut)
	defer stop()
	ro := runner.Options{
		ScenarioPath: opts.Scenario, Overrides: opts.Set, OutDir: opts.OutDir, Force: opts.Force,
		Version: opts.Version, Stderr: ios.ErrOut, AllowPublic: opts.AllowPublic, TrafficOverride: opts.Traffic,
		Abort: abort,
	}
	cleanup, done, err := oneLineScenario(opts, &ro)
	defer cleanup()
	if err != nil || done {
		return err
	}
	var bars *runner.Bars
	switch {
	case opts.Quiet:
	case ios.IsStderrTTY():
		bars = runner.NewBars(ios.ErrOut, ios.TerminalWidth())
		ro.Observer = bars
	default:
		ro.Observer = &runner.Lines{W: ios.ErrOut, Interval: opts.ProgressInterval}
	}
	Defaults(&ro)
	if w.Options != nil {
		w.Options(&ro)
	}
	if opts.Shard != "" {
		if s, err := runner.LoadScenario(&ro); err == nil {
			tp := s.Resolve(s.Traffic.File)
			if ro.TrafficOverride != "" {
				tp = ro.TrafficOverride
			}
			if err := shard.Check(s, tp, opts.ShardSpec, opts.StartAtTime, time.Now()); err != nil {
				return cmdutil.BadInput(err)
			}
		}
		prev, hook := ro.Sweep, shard.Configure(opts.ShardSpec, opts.StartAtTime)
		ro.Sweep = func(c *sweep.Config) {
			if prev != nil {
				prev(c)
			}
			hook(c)
			if !opts.Quiet {
				fmt.Fprintf(ios.ErrOut, "shard %s: %d steps, one every %v from %s (in %v); no adaptive stop, no refinement\n",
					opts.ShardSpec, len(c.Plan), sweep.StepSlot(c.Scenario), opts.StartAtTime.Format(time.RFC3339Nano), time.Until(opts.StartAtTime).Round(100*time.Millisecond))
			}
		}
	}
	out, err := runner.Execute(ctx, ro)
	if bars != nil {
		bars.Wait()
	}
	if err != nil {
		switch {
		case errors.Is(err, runner.ErrInterrupted):
			return cmdutil.Interrupted(err)
		case errors.Is(err, runner.ErrBadInput):
			return cmdutil.BadInput(err)
		case errors.Is(err, runner.ErrNotSaved) && out != nil && out.Result != nil:
			// The run was measured: its figures still reach stdout, the
			// only place left for them.
			if serr := summary(opts, w, out); serr != nil {
				fmt.Fprintf(ios.ErrOut, "the summary could not be printed either: %v\n", serr)
			}
		}
		return cmdutil.RunFailed(err)
	}
	r := out.Result
	if err := summary(opts, w, out); err != nil {
		return err
	}
	switch r.Status {
	case result.StatusInterrupted:
		done, cut := 0, 0
		for _, s := range r.Steps {
			if s.Partial {
				cut++
			} else {
				done++
			}
		}
		fmt.Fprintf(ios.ErrOut, "interrupted: the partial result (%d completed step(s), %d cut short and kept as partial) is in %s\n", done, cut, out.ResultPath)
		return cmdutil.Interrupted(nil)
	case result.StatusAborted:
		fmt.Fprintf(ios.ErrOut, "run aborted: %s\n", r.Reason)
		if out.Err != nil {
			return cmdutil.RunFailed(out.Err)
		}
	}
	return nil
}

// parseShardFlags checks --shard and --start-at: both or neither, and a
// start time not already past.
func parseShardFlags(opts *Options, now time.Time) error {
	if opts.Shard == "" && opts.StartAt == "" {
		return nil
	}
	if opts.Shard == "" {
		return cmdutil.BadInputf("--start-at needs --shard i/n")
	}
	if opts.StartAt == "" {
		return cmdutil.BadInputf("--shard needs --start-at: every shard must start its plan at the same time (e.g. --start-at 2026-11-25T14:00:00Z, or +30s to try it on one machine)")
	}
	spec, err := shard.ParseSpec(opts.Shard, os.Getenv)
	if err != nil {
		return cmdutil.BadInputf("--shard: %v", err)
	}
	at, err := shard.ParseStartAt(opts.StartAt, now)
	if err != nil {
		return cmdutil.BadInputf("--start-at: %v", err)
	}
	if late := now.Sub(at); late > time.Second {
		return cmdutil.BadInputf("--start-at %s is %v in the past: the shards would not change rate together; give a later time", opts.StartAt, late.Round(time.Second))
	}
	opts.ShardSpec, opts.StartAtTime = spec, at
	return nil
}

// Defaults fills in the parts of the run this binary provides.
func Defaults(o *runner.Options) { runner.Standard(o) }

// JSONSummary is what `run --format json` prints: the headline, each step
// in brief and where the files are. result.json holds everything.
type JSONSummary struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Result is the path of result.json; empty when it could not be written.
	Result     string            `json:"result"`
	BestBefore result.BestBefore `json:"best_before"`
	Steps      []JSONStep        `json:"steps"`
	Warnings   []string          `json:"warnings,omitempty"`
}

// JSONStep is one step in brief.
type JSONStep struct {
	Phase       string   `json:"phase"`
	OfferedQPS  float64  `json:"offered_qps"`
	AchievedQPS float64  `json:"achieved_qps"`
	P50MS       float64  `json:"p50_ms"`
	P99MS       float64  `json:"p99_ms"`
	ErrorRate   float64  `json:"error_rate"`
	SLOPass     bool     `json:"slo_pass"`
	Failed      []string `json:"failed,omitempty"`
	Saturated   bool     `json:"saturated"`
}

// WriteJSONSummary prints the JSON summary.
func WriteJSONSummary(w io.Writer, o *runner.Outcome) error {
	r := o.Result
	js := JSONSummary{Status: r.Status, Reason: r.Reason, Result: o.ResultPath, BestBefore: r.BestBefore, Warnings: r.Warnings, Steps: []JSONStep{}}
	if _, err := os.Stat(o.ResultPath); err != nil {
		js.Result = "" // not written (a full disk): the summary is all there is
	}
	for _, s := range r.Steps {
		js.Steps = append(js.Steps, JSONStep{Phase: s.Phase, OfferedQPS: s.OfferedQPS, AchievedQPS: s.AchievedQPS,
			P50MS: s.LatencyMS.P50, P99MS: s.LatencyMS.P99, ErrorRate: s.ErrorRate, SLOPass: s.SLOPass, Failed: s.Failed, Saturated: s.Generator.Saturated})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(js)
}

// summary prints the run's summary on stdout, as --format asks.
func summary(opts *Options, w Wiring, out *runner.Outcome) error {
	ios := opts.IO
	switch {
	case opts.Format == "json":
		return WriteJSONSummary(ios.Out, out)
	case w.Summary != nil:
		return w.Summary(ios.Out, out)
	}
	return report.Summary(ios.Out, out.Result, report.Options{Version: opts.Version, Written: written(out), Width: ios.TerminalWidth()})
}

// written lists the files of the run that exist.
func written(o *runner.Outcome) []string {
	var files []string
	for _, n := range []string{filepath.Base(o.ResultPath), report.MarkdownFile, report.HTMLFile} {
		p := filepath.Join(o.Dir, n)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	return files
}

// watchFlags turns --pid and --process-name into the monitor keys they
// stand for, refusing, before any request, a process that is not running
// (watching nothing would print "not watched" only after the run).
func watchFlags(ctx context.Context, opts *Options, pids []int, name string) error {
	if len(pids) > 0 {
		ids := make([]string, len(pids))
		for i, p := range pids {
			if p <= 0 {
				return cmdutil.BadInputf("--pid %d: a process id is a positive integer", p)
			}
			if ok, _ := process.PidExistsWithContext(ctx, int32(p)); !ok {
				return cmdutil.BadInputf("--pid %d: no such process is running", p)
			}
			ids[i] = strconv.Itoa(p)
		}
		opts.Set = append(opts.Set, "monitor.pids=["+strings.Join(ids, ",")+"]")
	}
	if name != "" {
		found, err := probe.FindProcesses(ctx, name)
		if err != nil {
			return cmdutil.RunFailed(err)
		}
		if len(found) == 0 {
			return cmdutil.BadInputf("--process-name %q: no process of that exact name is running (ps -eo comm lists the names)", name)
		}
		opts.Set = append(opts.Set, "monitor.process_name="+name)
	}
	return nil
}
