// Package runner carries out a whole `run`: it loads the scenario, checks
// the target before sending anything, starts the bundled cluster when asked,
// drives the sweep, and writes result.json and the reports — also when the
// run is interrupted or the target dies.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/bestbefore/bestbefore/pkg/calibrate"
	"github.com/bestbefore/bestbefore/pkg/capacity"
	"github.com/bestbefore/bestbefore/pkg/h1"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/probe"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/scenario"
	"github.com/bestbefore/bestbefore/pkg/sweep"
)

// Errors that map to exit codes.
var (
	// ErrBadInput wraps problems with the scenario or traffic (exit 2).
	ErrBadInput = errors.New("bad input")
	// ErrUnreachable wraps a target that cannot be reached before the run (exit 3).
	ErrUnreachable = errors.New("target unreachable")
	// ErrInterrupted is an interrupt before the first request: nothing
	// was sent and no result written (exit 130).
	ErrInterrupted = errors.New("interrupted before the first request was sent: no result written")
	// ErrNotSaved wraps a run that was measured but whose result or
	// reports could not be written (a full disk): the Outcome still holds
	// the result, for the summary (exit 3).
	ErrNotSaved = errors.New("the run's figures could not be saved")
)

// inputError is bad input: its message is the underlying one, and
// errors.Is(err, ErrBadInput) holds.
type inputError struct{ err error }

func (e *inputError) Error() string        { return e.err.Error() }
func (e *inputError) Unwrap() error        { return e.err }
func (e *inputError) Is(target error) bool { return target == ErrBadInput }

func badInput(err error) error { return &inputError{err} }

// Cluster is a bundled target started for the run.
type Cluster interface {
	URL() string
	PIDs() []int32
	MetricsURLs() []string
	Kill(i int) error
	Revive(i int) error
	Close() error
}

// Options configure Execute.
type Options struct {
	// ScenarioPath is the scenario file; ScenarioData, when set, is used
	// instead (embedded scenarios), with ScenarioName in messages and
	// ScenarioDir for relative paths.
	ScenarioPath string
	ScenarioData []byte
	ScenarioName string
	ScenarioDir  string
	Overrides    []string
	// TrafficOverride replaces the scenario's traffic file.
	TrafficOverride string
	// OutDir is where result.json and the reports go; empty for a fresh
	// reports/<name>-<time>. The run locks it, and refuses one that holds
	// a result already unless Force (ADR 33).
	OutDir   string
	Force    bool
	Version  string
	Stderr   io.Writer
	Observer sweep.Observer
	// StartCluster starts the bundled target; required for bundled scenarios.
	StartCluster func(ctx context.Context, b *scenario.Bundled) (Cluster, error)
	// NewMonitor builds the resource monitor for the run (nil: none).
	NewMonitor func(s *scenario.Scenario, pids []int32, metricsURLs []string) sweep.StepWatcher
	// WriteReports renders the reports beside result.json.
	WriteReports func(dir string, r *result.Result) error
	AllowPublic  bool
	// Abort, once closed after ctx is cancelled, cuts short the wait for
	// the requests in flight; the partial result is still written.
	Abort <-chan struct{}
	// Sweep is applied to the sweep configuration last (shards, tests).
	Sweep func(*sweep.Config)
	// Warnings, when set, is asked for advice before the sweep starts,
	// given the highest rate this generator will send; each warning is
	// printed on Stderr and recorded in result.warnings.
	Warnings func(s *scenario.Scenario, peakQPS float64) []string
	Now      func() time.Time
}

// Outcome is what Execute produced.
type Outcome struct {
	Result     *result.Result
	Scenario   *scenario.Scenario
	Dir        string
	ResultPath string
	// Err is the error the sweep ended with, if any (the result was still written).
	Err error
}

// LoadScenario reads the scenario the options name.
func LoadScenario(o *Options) (*scenario.Scenario, error) {
	var s *scenario.Scenario
	var err error
	if o.ScenarioData != nil {
		s, err = scenario.Parse(o.ScenarioData, o.ScenarioName, o.ScenarioDir, o.Overrides)
	} else {
		s, err = scenario.Load(o.ScenarioPath, o.Overrides)
	}
	if err != nil {
		return nil, badInput(err)
	}
	if err := validateMetrics(s); err != nil {
		return nil, badInput(err)
	}
	return s, nil
}

// Traffic finds and reads the scenario's traffic file (override, when
// set, instead): the whole file is read before any request is sent, and a
// missing or malformed one is bad input naming the file, line and field.
func Traffic(ctx context.Context, s *scenario.Scenario, override string) (string, *sweep.TrafficInfo, error) {
	path := s.Resolve(s.Traffic.File)
	if override != "" {
		path = override
	}
	if _, err := os.Stat(path); err != nil {
		return "", nil, badInput(fmt.Errorf("%s: traffic.file: %v", s.Path, err))
	}
	info, err := sweep.ScanTraffic(ctx, path)
	if ctx.Err() != nil {
		return "", nil, ErrInterrupted
	}
	if err != nil {
		return "", nil, badInput(err)
	}
	return path, info, nil
}

// validateMetrics checks monitor.metrics before anything starts, naming
// the file, line and entry (the scenario package does not know the
// metric syntax, which pkg/probe owns).
func validateMetrics(s *scenario.Scenario) error {
	for i, m := range s.Monitor.Metrics {
		err := probe.ValidateMetrics([]string{m})
		if err == nil {
			continue
		}
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		field := fmt.Sprintf("monitor.metrics.%d", i)
		e := &scenario.Error{File: s.Path, Field: field, Msg: err.Error()}
		switch l := s.Line(field); {
		case l > 0:
			e.Line = l
		case l < 0:
			e.File = "--set"
		}
		return e
	}
	return nil
}

// PeakQPS is the highest rate the sweep cfg will send from this generator.
func PeakQPS(cfg *sweep.Config) float64 {
	rates := cfg.Scenario.Rates()
	if cfg.Plan != nil {
		rates = cfg.Plan
	}
	peak := 0.0
	for _, q := range rates {
		peak = max(peak, q)
	}
	if cfg.RateScale > 0 {
		peak *= cfg.RateScale
	}
	return peak
}

// CalibrationWarnings warns when the run goes above the rate this machine
// was calibrated to generate (`bestbefore calibrate`, cached in the user
// cache directory). Without a calibration of this machine (same hostname,
// CPU model and GOMAXPROCS) it says nothing: run never calibrates itself.
func CalibrationWarnings(_ *scenario.Scenario, peakQPS float64) []string {
	path, err := calibrate.DefaultCachePath()
	if err != nil {
		return nil
	}
	if a := calibrate.Advice(peakQPS, calibrate.Cached(path, calibrate.CurrentMachine())); a != "" {
		return []string{a}
	}
	return nil
}

// Execute runs the scenario and writes the result. The returned Outcome
// holds a result whenever the run started, even with an error.
func Execute(ctx context.Context, o Options) (*Outcome, error) {
	s, err := LoadScenario(&o)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Scenario: s}
	trafficPath, info, err := Traffic(ctx, s, o.TrafficOverride)
	if err != nil {
		return nil, err
	}

	// A run that would replace another's result stops before it starts a
	// target (the directory is locked once the targets answer: a run that
	// never starts leaves no directory behind).
	if o.OutDir != "" && !o.Force {
		if err := checkNoResult(o.OutDir, false); err != nil {
			return nil, err
		}
	}

	// resolve starts or checks one target and returns its base URLs.
	var clusters []Cluster
	defer func() {
		for _, c := range clusters {
			c.Close()
		}
	}()
	resolve := func(t *scenario.Target) ([]string, Cluster, error) {
		switch {
		case t.Bundled != nil:
			if o.StartCluster == nil {
				return nil, nil, badInput(errors.New("this build cannot start the bundled target"))
			}
			c, err := o.StartCluster(ctx, t.Bundled)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: starting the bundled target: %v", ErrUnreachable, err)
			}
			clusters = append(clusters, c)
			if s.Target.Protocol == scenario.ProtocolGRPC {
				// The balancer answers gRPC (h2c) on the same port.
				return []string{"grpc://" + strings.TrimPrefix(c.URL(), "http://")}, c, nil
			}
			return []string{c.URL()}, c, nil
		case t.URL != "":
			return []string{t.URL}, nil, CheckTargets(ctx, []string{t.URL}, o.AllowPublic)
		default:
			return t.URLs, nil, CheckTargets(ctx, t.URLs, o.AllowPublic)
		}
	}
	var urls, candidateURLs []string
	var cluster Cluster
	if s.Target.Baseline != nil {
		if urls, _, err = resolve(s.Target.Baseline); err == nil {
			candidateURLs, _, err = resolve(s.Target.Candidate)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ErrInterrupted
			}
			return nil, err
		}
	} else if urls, cluster, err = resolve(&s.Target); err != nil {
		if ctx.Err() != nil {
			return nil, ErrInterrupted
		}
		return nil, err
	}

	setup, err := GRPCSetup(ctx, s, append(append([]string(nil), urls...), candidateURLs...), trafficPath, o.AllowPublic)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	dir, lock, err := claimOut(o.OutDir, s.Name, o.Force, time.Now())
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	if err := checkWritable(dir); err != nil {
		return nil, err
	}
	out.Dir = dir
	out.ResultPath = filepath.Join(dir, "result.json")

	cfg := sweep.Config{Scenario: s, TargetURLs: urls, CandidateURLs: candidateURLs, TrafficPath: trafficPath, Traffic: info, Observer: o.Observer, Now: o.Now,
		AllowPublic: o.AllowPublic, Abort: o.Abort}
	if setup != nil {
		cfg.Setup = setup
	}
	if o.NewMonitor != nil && !s.Monitor.Disabled {
		var pids []int32
		var murls []string
		if cluster != nil {
			pids, murls = cluster.PIDs(), cluster.MetricsURLs()
		}
		cfg.Monitor = o.NewMonitor(s, pids, murls)
	}
	if nl := s.Capacity.NodeLoss; nl != nil && nl.Verify {
		if cluster != nil {
			node := nl.Node
			if node <= 0 || node > len(cluster.PIDs()) {
				node = len(cluster.PIDs())
			}
			cfg.NodeKiller = &clusterKiller{c: cluster, i: node - 1}
		} else {
			cfg.NodeKiller = &commandKiller{kill: nl.Command, restore: nl.RestoreCommand, stderr: o.Stderr}
		}
	}
	if o.Sweep != nil {
		o.Sweep(&cfg)
	}
	var advice []string
	if o.Warnings != nil {
		advice = o.Warnings(s, PeakQPS(&cfg))
		for _, w := range advice {
			if o.Stderr != nil {
				fmt.Fprintf(o.Stderr, "warning: %s\n", iostreams.Safe(w))
			}
		}
	}
	if info.Truncated {
		advice = append(advice, fmt.Sprintf("traffic file %s is a gzip stream cut off before its end (a recording stopped without closing it): its %d complete lines are replayed, the partial last one is left out", trafficPath, info.Count))
		if o.Stderr != nil {
			fmt.Fprintf(o.Stderr, "warning: %s\n", iostreams.Safe(advice[len(advice)-1]))
		}
	}
	if s.Seed == 0 {
		// Each run draws its own arrival schedule (and shuffle order):
		// a fixed seed would repeat one unlucky Poisson draw run after
		// run. result.json records the seed; run --seed replays it.
		s.Seed = DrawSeed()
	}
	r, runErr := sweep.Run(ctx, cfg)
	if len(advice) > 0 {
		r.Warnings = append(advice, r.Warnings...)
	}
	out.Result = r
	out.Err = runErr
	r.Manifest = manifest(s, trafficPath, urls, o.Version)
	if runErr != nil && r.Status == result.StatusCompleted {
		r.Status = result.StatusAborted
		r.Reason = runErr.Error()
	}
	if len(r.Steps) > 0 {
		r.Capacity = capacity.ModelFromResult(r)
	}
	r.Errors = result.TabulateErrors(r.Steps)
	for name, sd := range r.Sides {
		sd.Manifest = r.Manifest
		sd.Manifest.Targets = urls
		if name == "candidate" {
			sd.Manifest.Targets = candidateURLs
		}
		if len(sd.Steps) > 0 {
			sd.Capacity = capacity.ModelFromResult(sd)
		}
		sd.Errors = result.TabulateErrors(sd.Steps)
	}
	if err := result.Write(out.ResultPath, r); err != nil {
		// A result.json or report left from an earlier run in this
		// directory would pass for this one's: remove them.
		removeStale(dir, out.ResultPath)
		return out, fmt.Errorf("%w: %v", ErrNotSaved, err)
	}
	if o.WriteReports != nil {
		if err := o.WriteReports(dir, r); err != nil {
			return out, fmt.Errorf("%w: the reports: %v (result.json was written)", ErrNotSaved, err)
		}
	}
	return out, nil
}

func removeStale(dir, resultPath string) {
	os.Remove(resultPath)
	for _, n := range []string{report.MarkdownFile, report.HTMLFile} {
		os.Remove(filepath.Join(dir, n))
	}
}

// SafeName turns a scenario name into a directory name.
func SafeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "run"
	}
	return b.String()
}

// writeReserve is the room checked for before a run: more than the
// result.json and reports of a long run take.
const writeReserve = 1 << 20

// checkWritable makes sure the output directory takes files and has room
// for the result, by writing writeReserve bytes and syncing them: an
// empty file fits on a full disk, the result would not.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.Write(make([]byte, writeReserve))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("output directory %s has no room for the result (%d KiB checked): %w", dir, writeReserve>>10, err)
	}
	return nil
}

// CheckTargets makes sure every target resolves, is allowed, and accepts a
// TCP connection, before any request is sent.
func CheckTargets(ctx context.Context, urls []string, allowPublic bool) error {
	for _, raw := range urls {
		u, err := h1.ParseBase(raw)
		if err != nil {
			return badInput(fmt.Errorf("target %w", err))
		}
		host, port := u.Hostname(), h1.Port(u)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
		cancel()
		if err != nil || len(addrs) == 0 {
			return fmt.Errorf("%w: %s: cannot resolve %q: %v", ErrUnreachable, raw, host, err)
		}
		guard := h1.Guard{AllowPublic: allowPublic}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && !guard.Allowed(ip) {
				return badInput(fmt.Errorf("target %s resolves to %s, %s", raw, a.IP, h1.Refusal(ip)))
			}
		}
		c, err := guard.DialContext(ctx, "tcp", net.JoinHostPort(host, port), 3*time.Second)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnreachable, raw, err)
		}
		c.Close()
	}
	return nil
}

func manifest(s *scenario.Scenario, trafficPath string, urls []string, version string) result.Manifest {
	host, _ := os.Hostname()
	m := result.Manifest{
		Tool: "bestbefore", Version: version, GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUModel: probe.CPUModel(), CPUs: runtime.NumCPU(), Hostname: host,
		Seed: s.Seed, Scenario: s.Path, Traffic: trafficPath, Overrides: s.Overrides, Targets: urls,
		EffectiveYAML: s.EffectiveYAML(),
	}
	sum := sha256.Sum256(s.Source)
	m.ScenarioSHA = hex.EncodeToString(sum[:])
	if f, err := os.Open(trafficPath); err == nil {
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		m.TrafficSHA = hex.EncodeToString(h.Sum(nil))
	}
	return m
}

// DrawSeed returns a fresh, positive run seed.
func DrawSeed() int64 {
	return int64(rand.Uint64()>>2) + 1
}
