package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bestbefore/bestbefore/pkg/probe"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/shirou/gopsutil/v4/cpu"
)

// Tools measured.
const (
	BestBefore = "bestbefore"
	Vegeta     = "vegeta"
	// BestBeforeGRPC and Ghz are the tools of the gRPC comparison.
	BestBeforeGRPC = "bestbefore-grpc"
	Ghz            = "ghz"
)

// grpcCall is the call both gRPC tools make: the Open Inference Protocol's
// ModelInfer with one row of 16 features.
const (
	grpcMethod = "inference.GRPCInferenceService.ModelInfer"
	grpcData   = `{"model_name":"scorer","inputs":[{"name":"features","datatype":"FP32","shape":[1,16],"contents":{"fp32_contents":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,-0.1,-0.2,-0.3,-0.4,-0.5,-0.6]}}]}`
)

// GRPCTraffic is bestbefore's traffic file of the gRPC comparison.
func GRPCTraffic() []byte {
	line := fmt.Appendf(nil, "{\"path\":\"/inference.GRPCInferenceService/ModelInfer\",\"body\":%q}\n", grpcData)
	return bytes.Repeat(line, requestCount)
}

// Requests both tools cycle through: distinct query strings, as recorded
// traffic would have. (A one-line traffic file would measure bestbefore
// reopening its traffic file after every request, not sending.)
const (
	requestPath  = "/v1/predict?q=item-%04d&k=5"
	requestCount = 1000
)

// TrafficFiles returns the same requests as a bestbefore traffic file
// and as vegeta targets aimed at addr.
func TrafficFiles(addr string) (traffic, targets []byte) {
	for i := range requestCount {
		p := fmt.Sprintf(requestPath, i)
		traffic = fmt.Appendf(traffic, "{\"path\":%q}\n", p)
		targets = fmt.Appendf(targets, "GET http://%s%s\n", addr, p)
	}
	return traffic, targets
}

// Run is one generator process at one fixed rate.
type Run struct {
	Tool    string
	Offered float64
	Rep     int
	// User and Sys are the process's CPU times (getrusage of the child).
	User, Sys time.Duration
	// VolSwitches and InvolSwitches are the process's context switches
	// (getrusage): voluntary ones are its threads going to sleep (a timer,
	// a socket with nothing to read: each a wake-up later), involuntary
	// ones the scheduler taking the core away.
	VolSwitches, InvolSwitches int64
	Wall                       time.Duration
	// Completed counts successful responses; Sent counts requests sent.
	Completed, Sent int64
	AchievedQPS     float64
	// LagP50MS and LagP99MS are bestbefore's send lag (NaN for vegeta, which
	// does not measure it).
	LagP50MS, LagP99MS float64
	// LatP50MS and LatP99MS are latencies as each tool reports them:
	// bestbefore from the intended send time, vegeta from the actual send.
	LatP50MS, LatP99MS float64
	// Load1 is the machine's 1-minute load average when the run started.
	Load1 float64
	// Steal is the share of the machine's CPU time the hypervisor gave to
	// other guests during the run (steal time; NaN where unknown). Above a
	// few percent the generators ran on a slower machine than the one
	// the figures describe.
	Steal float64
	// Steps is how many times bestbefore measured the step (it measures a
	// step that saturated its CPU once more).
	Steps int
	// ServerCPU is the share of its core the server used during the run
	// (1 = all of it): near 1, the server, not the generator, set the pace.
	ServerCPU float64
	// Errors counts bestbefore's failed requests by class (first step).
	Errors map[string]int64
	// Err says why the run did not produce figures.
	Err string
}

// CPUPerRequestUS is the process's CPU time per completed request, µs.
func (r Run) CPUPerRequestUS() float64 {
	if r.Completed == 0 {
		return math.NaN()
	}
	return float64(r.User+r.Sys) / float64(time.Microsecond) / float64(r.Completed)
}

// SwitchesPerRequest is the process's context switches per completed
// request, voluntary and involuntary: at low rates a generator's cost is
// sleeping and being woken, and this is the figure that counts it.
func (r Run) SwitchesPerRequest() (vol, invol float64) {
	if r.Completed == 0 {
		return math.NaN(), math.NaN()
	}
	return float64(r.VolSwitches) / float64(r.Completed), float64(r.InvolSwitches) / float64(r.Completed)
}

// Sustained reports whether the run kept the offered rate: at least
// minAchieved of it completed without error and, for bestbefore, a send lag
// p99 under maxLagMS.
func (r Run) Sustained(maxLagMS, minAchieved float64) bool {
	if r.Err != "" || r.Completed < r.Sent || r.AchievedQPS < minAchieved*r.Offered {
		return false
	}
	return math.IsNaN(r.LagP99MS) || r.LagP99MS < maxLagMS
}

// Report is everything one benchmark run measured.
type Report struct {
	Config    Config
	Env       Env
	Started   time.Time
	Finished  time.Time
	LoadStart string
	LoadEnd   string
	// Steal is the machine's steal time over the whole benchmark (see Run).
	Steal float64
	// GRPC holds the gRPC comparison's runs (bestbefore-grpc and ghz).
	GRPC       []Run
	Fixed      []Run // the fixed-rate runs, Reps per rate and tool
	Max        []Run // the maximum-rate search, one run per rate and tool
	Idle       []Run // startup and exit cost: 10 QPS for one second
	ServerAddr string
}

// Env describes the machine and the tools.
type Env struct {
	CPUModel      string
	CPUs          int
	Kernel        string
	Go            string
	VegetaVersion string
	GhzVersion    string
}

// Bench runs the whole benchmark, logging one line per run to log.
func Bench(ctx context.Context, c Config, log io.Writer) (*Report, error) {
	if runtime.NumCPU() < 2 {
		return nil, errors.New("the benchmark needs two cores: one for the generator, one for the server")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil, errors.New("taskset not found: install util-linux")
	}
	rep := &Report{Config: c, Env: environment(c.Vegeta, c.Ghz), Started: time.Now(), LoadStart: loadavg()}
	stat0 := machineCPU()
	addr, serverPID, stopServer, err := startServer(c)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	rep.ServerAddr = addr
	targets := filepath.Join(c.Workdir, "targets.txt")
	traffic := filepath.Join(c.Workdir, "traffic.ndjson")
	trafficData, targetsData := TrafficFiles(addr)
	if err := os.WriteFile(targets, targetsData, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(traffic, trafficData, 0o644); err != nil {
		return nil, err
	}
	m := &measurer{c: c, addr: addr, targets: targets, traffic: traffic, log: log}
	do := func(tool string, rate float64, d time.Duration, repNo int) (Run, error) {
		if err := ctx.Err(); err != nil {
			return Run{}, err
		}
		drainTimeWait(ctx, log)
		before, t0 := procCPU(serverPID), time.Now()
		r := m.run(ctx, tool, rate, d, repNo)
		r.ServerCPU = (procCPU(serverPID) - before).Seconds() / time.Since(t0).Seconds()
		fmt.Fprintf(log, "%-10s %7.0f QPS rep %d: %s\n", tool, rate, repNo, r.line())
		return r, ctx.Err()
	}
	for _, tool := range []string{BestBefore, Vegeta} {
		r, err := do(tool, 10, time.Second, 1)
		if err != nil {
			return nil, err
		}
		rep.Idle = append(rep.Idle, r)
	}
	for _, rate := range c.Rates {
		for i := 1; i <= c.Reps; i++ {
			order := []string{BestBefore, Vegeta}
			if i%2 == 0 {
				order = []string{Vegeta, BestBefore}
			}
			for _, tool := range order {
				r, err := do(tool, rate, c.Duration, i)
				if err != nil {
					return nil, err
				}
				rep.Fixed = append(rep.Fixed, r)
			}
		}
	}
	failures := map[string]int{}
	for _, rate := range c.MaxRates {
		for _, tool := range []string{BestBefore, Vegeta} {
			if failures[tool] >= 2 {
				continue
			}
			r, err := do(tool, rate, c.MaxDuration, 1)
			if err != nil {
				return nil, err
			}
			rep.Max = append(rep.Max, r)
			if r.Sustained(c.MaxLagMS, c.MinAchieved) {
				failures[tool] = 0
			} else {
				failures[tool]++
			}
		}
		if failures[BestBefore] >= 2 && failures[Vegeta] >= 2 {
			break
		}
	}
	if c.Ghz != "" {
		if err := benchGRPC(ctx, c, rep, log); err != nil {
			return nil, err
		}
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadavg()
	rep.Steal = StealShare(stat0, machineCPU())
	return rep, nil
}

// benchGRPC measures bestbefore and ghz side by side against the gRPC
// server, at each of c.GRPCRates, alternating which goes first.
func benchGRPC(ctx context.Context, c Config, rep *Report, log io.Writer) error {
	addr, serverPID, stop, err := startServer(c, "-grpc")
	if err != nil {
		return err
	}
	defer stop()
	traffic := filepath.Join(c.Workdir, "grpc.ndjson")
	if err := os.WriteFile(traffic, GRPCTraffic(), 0o644); err != nil {
		return err
	}
	m := &measurer{c: c, addr: addr, traffic: traffic, log: log}
	for _, rate := range c.GRPCRates {
		for i := 1; i <= c.Reps; i++ {
			order := []string{BestBeforeGRPC, Ghz}
			if i%2 == 0 {
				order = []string{Ghz, BestBeforeGRPC}
			}
			for _, tool := range order {
				if err := ctx.Err(); err != nil {
					return err
				}
				before, t0 := procCPU(serverPID), time.Now()
				r := m.run(ctx, tool, rate, c.Duration, i)
				r.ServerCPU = (procCPU(serverPID) - before).Seconds() / time.Since(t0).Seconds()
				fmt.Fprintf(log, "%-15s %7.0f calls/s rep %d: %s\n", tool, rate, i, r.line())
				rep.GRPC = append(rep.GRPC, r)
			}
		}
	}
	return ctx.Err()
}

type measurer struct {
	c                      Config
	addr, targets, traffic string
	log                    io.Writer
}

func (m *measurer) run(ctx context.Context, tool string, rate float64, d time.Duration, repNo int) Run {
	r := Run{Tool: tool, Offered: rate, Rep: repNo, Load1: load1(),
		LagP50MS: math.NaN(), LagP99MS: math.NaN(), LatP50MS: math.NaN(), LatP99MS: math.NaN()}
	var err error
	stat0 := machineCPU()
	switch tool {
	case BestBefore:
		err = m.bestbefore(ctx, &r, d, Scenario(m.addr, rate, d))
	case BestBeforeGRPC:
		err = m.bestbefore(ctx, &r, d, GRPCScenario(m.addr, rate, d))
	case Ghz:
		err = m.ghz(ctx, &r, d)
	default:
		err = m.vegeta(ctx, &r, d)
	}
	r.Steal = StealShare(stat0, machineCPU())
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// Scenario is the bestbefore scenario of one fixed-rate run: one step,
// no warmup (every request completed counts, so CPU per request is
// exact), no target monitoring, and a send lag limit far above anything
// measured so that a late step is not measured twice (the harness
// applies its own limit to the lag bestbefore reports).
func Scenario(addr string, rate float64, d time.Duration) string {
	return fmt.Sprintf(`name: bench-%[2]s
target:
  url: http://%[1]s
traffic:
  file: traffic.ndjson
load:
  steps: [%[2]s]
  step_duration: %[3]s
  warmup: 0s
  timeout: 2s
monitor:
  disabled: true
  max_send_lag: 1m
`, addr, strconv.FormatFloat(rate, 'f', -1, 64), d)
}

// GRPCScenario is Scenario for the gRPC server: the same step, the
// descriptors from its reflection.
func GRPCScenario(addr string, rate float64, d time.Duration) string {
	s := Scenario(addr, rate, d)
	s = strings.Replace(s, "url: http://", "url: grpc://", 1)
	return strings.Replace(s, "file: traffic.ndjson", "file: grpc.ndjson", 1)
}

func (m *measurer) bestbefore(ctx context.Context, r *Run, d time.Duration, scenario string) error {
	name := fmt.Sprintf("bb-%.0f-%d-%d", r.Offered, r.Rep, time.Now().UnixNano())
	scen := filepath.Join(m.c.Workdir, name+".yaml")
	out := filepath.Join(m.c.Workdir, name)
	if err := os.WriteFile(scen, []byte(scenario), 0o644); err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := m.pinned(ctx, m.c.BestBefore, "run", scen, "--out", out)
	if err := m.measure(cmd, r, 1); err != nil {
		return err
	}
	res, err := result.Read(filepath.Join(out, "result.json"))
	if err != nil {
		return err
	}
	if len(res.Steps) == 0 {
		return errors.New("result.json holds no step")
	}
	// A step that saturated the generator's CPU is measured once more by
	// the sweep: the process's CPU covers every step, so every step's
	// requests count; the rates and lags are the first attempt's.
	for _, st := range res.Steps {
		r.Completed += st.Successes
		r.Sent += st.Requests
	}
	r.Steps = len(res.Steps)
	st := res.Steps[0]
	r.Errors = st.ErrorsByClass
	r.AchievedQPS = st.AchievedQPS
	r.LagP50MS, r.LagP99MS = st.Generator.SendLagP50MS, st.Generator.SendLagP99MS
	r.LatP50MS, r.LatP99MS = st.LatencyMS.P50, st.LatencyMS.P99
	return nil
}

// VegetaReport is the part of `vegeta report -type=json` the benchmark reads.
type VegetaReport struct {
	Latencies struct {
		P50 int64 `json:"50th"`
		P99 int64 `json:"99th"`
	} `json:"latencies"`
	Requests   int64   `json:"requests"`
	Rate       float64 `json:"rate"`
	Throughput float64 `json:"throughput"`
	Success    float64 `json:"success"`
}

// ParseVegetaReport reads a `vegeta report -type=json` document.
func ParseVegetaReport(b []byte) (VegetaReport, error) {
	var v VegetaReport
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("vegeta report: %w", err)
	}
	if v.Requests == 0 {
		return v, errors.New("vegeta report: no request was sent")
	}
	return v, nil
}

func (m *measurer) vegeta(ctx context.Context, r *Run, d time.Duration) error {
	out := filepath.Join(m.c.Workdir, fmt.Sprintf("vegeta-%d.bin", time.Now().UnixNano()))
	defer os.Remove(out)
	cmd := m.pinned(ctx, m.c.Vegeta, "attack", fmt.Sprintf("-rate=%d/1s", int64(math.Round(r.Offered))),
		"-duration="+d.String(), "-timeout=2s", "-targets="+m.targets, "-output="+out)
	if err := m.measure(cmd, r, 0); err != nil {
		return err
	}
	b, err := m.pinned(ctx, m.c.Vegeta, "report", "-type=json", out).Output()
	if err != nil {
		return fmt.Errorf("vegeta report: %w", err)
	}
	v, err := ParseVegetaReport(b)
	if err != nil {
		return err
	}
	r.Sent = v.Requests
	r.Completed = int64(math.Round(float64(v.Requests) * v.Success))
	r.AchievedQPS = v.Throughput
	r.LatP50MS, r.LatP99MS = float64(v.Latencies.P50)/1e6, float64(v.Latencies.P99)/1e6
	return nil
}

// GhzReport is the part of ghz's JSON output the benchmark reads
// (latencies in ns).
type GhzReport struct {
	Count    int64            `json:"count"`
	RPS      float64          `json:"rps"`
	Statuses map[string]int64 `json:"statusCodeDistribution"`
	Latency  []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"`
	} `json:"latencyDistribution"`
}

// ParseGhzReport reads ghz's -O json document.
func ParseGhzReport(b []byte) (GhzReport, error) {
	var g GhzReport
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("ghz report: %w", err)
	}
	if g.Count == 0 {
		return g, errors.New("ghz report: no call was made")
	}
	return g, nil
}

func (m *measurer) ghz(ctx context.Context, r *Run, d time.Duration) error {
	cmd := m.pinned(ctx, m.c.Ghz, "--insecure", "--call", grpcMethod, "-d", grpcData, "--rps", strconv.Itoa(int(math.Round(r.Offered))),
		"-z", d.String(), "-c", "50", "--connections", "1", "--cpus", "1", "-O", "json", m.addr)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := m.measure(cmd, r, 0); err != nil {
		return err
	}
	g, err := ParseGhzReport(stdout.Bytes())
	if err != nil {
		return err
	}
	r.Sent, r.Completed = g.Count, g.Statuses["OK"]
	r.AchievedQPS = float64(g.Statuses["OK"]) / d.Seconds()
	for _, l := range g.Latency {
		switch l.Percentage {
		case 50:
			r.LatP50MS = float64(l.Latency) / 1e6
		case 99:
			r.LatP99MS = float64(l.Latency) / 1e6
		}
	}
	return nil
}

// pinned builds a command running on the generator's core, in the work
// directory (where the scenario finds its traffic file).
func (m *measurer) pinned(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", m.c.GenCPU, bin}, args...)...)
	cmd.Dir = m.c.Workdir
	return cmd
}

// measure runs cmd (exit codes up to okMax are accepted: bestbefore exits
// 1 when an objective fails) and records its CPU and wall time. taskset
// execs the tool in its own process, so the rusage is the tool's.
func (m *measurer) measure(cmd *exec.Cmd, r *Run, okMax int) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r.Wall = time.Since(start)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.User = time.Duration(syscall.TimevalToNsec(ru.Utime))
			r.Sys = time.Duration(syscall.TimevalToNsec(ru.Stime))
			r.VolSwitches, r.InvolSwitches = ru.Nvcsw, ru.Nivcsw
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 && ee.ExitCode() <= okMax {
		err = nil
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Args[3]), err, msg)
	}
	return nil
}

func (r Run) line() string {
	if r.Err != "" {
		return "error: " + r.Err
	}
	s := fmt.Sprintf("%.1f µs/req CPU, %.0f QPS achieved, %d/%d completed", r.CPUPerRequestUS(), r.AchievedQPS, r.Completed, r.Sent)
	if !math.IsNaN(r.LagP99MS) {
		s += fmt.Sprintf(", send lag p50 %.3f p99 %.3f ms", r.LagP50MS, r.LagP99MS)
	}
	s += fmt.Sprintf(", load %.2f", r.Load1)
	if !math.IsNaN(r.Steal) {
		s += fmt.Sprintf(", steal %.1f%%", 100*r.Steal)
	}
	return s
}

// startServer starts the fixed-response server pinned to its core and
// returns its address, its process id and a function that stops it.
func startServer(c Config, extra ...string) (string, int, func(), error) {
	cmd := exec.Command("taskset", append([]string{"-c", c.ServerCPU, c.Server, "-listen", "127.0.0.1:0"}, extra...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("server: %w", err)
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("server did not print its address: %w", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func load1() float64 {
	v, err := strconv.ParseFloat(strings.Fields(loadavg() + " x")[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func environment(vegeta, ghz string) Env {
	e := Env{CPUs: runtime.NumCPU(), Go: runtime.Version(), CPUModel: "unknown", Kernel: "unknown", VegetaVersion: "unknown", GhzVersion: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if bi, err := buildinfo.ReadFile(vegeta); err == nil {
		e.VegetaVersion = bi.Main.Path + " " + bi.Main.Version + " (" + bi.GoVersion + ")"
	}
	if bi, err := buildinfo.ReadFile(ghz); ghz != "" && err == nil {
		e.GhzVersion = bi.Main.Path + " " + bi.Main.Version + " (" + bi.GoVersion + ")"
	}
	return e
}

// drainTimeWait waits, when the machine holds more than 8000 TCP
// connections in TIME_WAIT (of about 28,000 ephemeral ports), up to 70 s
// until fewer than 4000 are left. A generator that fell behind and
// reconnected for every request leaves thousands of them on loopback,
// and the next run's connects then spend milliseconds in bind searching
// for a free port.
func drainTimeWait(ctx context.Context, log io.Writer) {
	n := timeWait()
	if n < 8000 {
		return
	}
	fmt.Fprintf(log, "waiting for %d TCP connections in TIME_WAIT to drain\n", n)
	deadline := time.Now().Add(70 * time.Second)
	for timeWait() >= 4000 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// timeWait counts the TCP connections in TIME_WAIT (state 06 in
// /proc/net/tcp and tcp6).
func timeWait() int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n += CountTimeWait(b)
	}
	return n
}

// CountTimeWait counts the TIME_WAIT lines of a /proc/net/tcp table.
func CountTimeWait(table []byte) int {
	n := 0
	for line := range strings.SplitSeq(string(table), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[3] == "06" {
			n++
		}
	}
	return n
}

// procCPU is the user + system CPU time process pid has used so far
// (taskset execs the server, so the pid is the server's).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return StatCPU(b)
}

// StatCPU reads utime + stime from a /proc/PID/stat line, in clock ticks
// of 10 ms (USER_HZ is 100 on every Linux architecture Go supports).
func StatCPU(stat []byte) time.Duration {
	// The command name, in parentheses, may hold spaces: fields count from
	// the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}

// machineCPU reads the machine's CPU times, all cores together; zero
// when they cannot be read.
func machineCPU() probe.CPUTimes {
	ts, err := cpu.Times(false)
	if err != nil || len(ts) == 0 {
		return probe.CPUTimes{}
	}
	return probe.TimesOf(ts[0])
}

// StealShare is the share of the machine's CPU time between two readings
// that was stolen; NaN when either reading is missing (zero) or no time
// passed.
func StealShare(a, b probe.CPUTimes) float64 {
	if a.Total <= 0 || b.Total <= a.Total || b.Steal < a.Steal {
		return math.NaN()
	}
	return (b.Steal - a.Steal) / (b.Total - a.Total)
}
