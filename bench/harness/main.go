// Command harness measures the load generator side by side with vegeta:
// both pinned to one core, a fixed-response loopback server pinned to the
// other, each tool's CPU time taken the same way (the getrusage of the
// finished process: user + system time, nothing subtracted) and divided by
// the requests it completed. It prints a Markdown report on standard
// output. bench/run.sh builds the binaries and calls it.
//
//	harness -bestbefore BIN -vegeta BIN -server BIN [-quick] [-reps 3]
//	        [-rates 1000,5000,10000] [-max-rates 10000,20000,...]
//	        [-ghz BIN [-grpc-rates 1000,5000]]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Config is what one benchmark run does.
type Config struct {
	BestBefore, Vegeta, Server string
	// Ghz, when set, adds the gRPC comparison at GRPCRates.
	Ghz       string
	GRPCRates []float64
	// CPUs are the cores the generators and the server are pinned to.
	GenCPU, ServerCPU string
	Rates             []float64
	Reps              int
	Duration          time.Duration
	MaxRates          []float64
	MaxDuration       time.Duration
	// MaxLagMS and MinAchieved define a sustained rate.
	MaxLagMS    float64
	MinAchieved float64
	Workdir     string
	Label       string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.BestBefore, "bestbefore", "", "bestbefore `binary`")
	fs.StringVar(&c.Vegeta, "vegeta", "", "vegeta `binary`")
	fs.StringVar(&c.Server, "server", "", "bench/server `binary`")
	fs.StringVar(&c.Ghz, "ghz", "", "ghz `binary`: adds the gRPC comparison")
	grpcRates := fs.String("grpc-rates", "1000,5000", "fixed `rates` (calls/s) of the gRPC comparison")
	fs.StringVar(&c.GenCPU, "gen-cpu", "0", "core the generators are pinned to")
	fs.StringVar(&c.ServerCPU, "server-cpu", "1", "core the server is pinned to")
	quick := fs.Bool("quick", false, "short durations and one repetition")
	rates := fs.String("rates", "1000,5000,10000", "fixed `rates` (QPS) measured side by side")
	maxRates := fs.String("max-rates", "5000,10000,15000,20000,30000,40000", "`rates` tried for the maximum sustained rate, ascending")
	fs.IntVar(&c.Reps, "reps", 3, "repetitions per rate and tool (medians are quoted)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each fixed-rate run")
	fs.DurationVar(&c.MaxDuration, "max-duration", 5*time.Second, "length of each maximum-rate run")
	fs.Float64Var(&c.MaxLagMS, "max-lag", 1, "send lag p99 (ms) under which a rate counts as sustained")
	fs.Float64Var(&c.MinAchieved, "min-achieved", 0.99, "share of the offered rate that must complete for a rate to count as sustained")
	fs.StringVar(&c.Label, "label", "", "what was measured (e.g. the commit), printed in the report")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if c.Rates, err = parseRates(*rates); err != nil {
		fmt.Fprintln(stderr, "harness: -rates:", err)
		return 2
	}
	if c.GRPCRates, err = parseRates(*grpcRates); err != nil {
		fmt.Fprintln(stderr, "harness: -grpc-rates:", err)
		return 2
	}
	if c.MaxRates, err = parseRates(*maxRates); err != nil {
		fmt.Fprintln(stderr, "harness: -max-rates:", err)
		return 2
	}
	if *quick {
		c.Reps, c.Duration, c.MaxDuration = 1, 3*time.Second, 2*time.Second
	}
	if c.BestBefore == "" || c.Vegeta == "" || c.Server == "" {
		fmt.Fprintln(stderr, "harness: -bestbefore, -vegeta and -server are required")
		return 2
	}
	if c.Reps < 1 || c.Duration < time.Second || c.MaxDuration < time.Second {
		fmt.Fprintln(stderr, "harness: -reps must be at least 1 and durations at least 1s")
		return 2
	}
	bins := []*string{&c.BestBefore, &c.Vegeta, &c.Server}
	if c.Ghz != "" {
		bins = append(bins, &c.Ghz)
	}
	for _, bin := range bins {
		if *bin, err = executable(*bin); err != nil {
			fmt.Fprintln(stderr, "harness:", err)
			return 2
		}
	}
	dir, err := os.MkdirTemp("", "bestbefore-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	c.Workdir = dir
	rep, err := Bench(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "harness:", err)
		return 1
	}
	fmt.Fprint(stdout, rep.Markdown())
	return 0
}

// executable returns the absolute path of bin, which must be an
// executable file: the tools run in a work directory of their own.
func executable(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", bin)
	}
	return abs, nil
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive rate", f)
		}
		if len(out) > 0 && v <= out[len(out)-1] {
			return nil, fmt.Errorf("rates must be ascending, %v after %v", v, out[len(out)-1])
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no rate given")
	}
	return out, nil
}
