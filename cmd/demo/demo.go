// Package demo is the `bestbefore demo` command: the bundled target, the
// bundled traffic and the demo scenario, in one command.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/runner"
	"github.com/bestbefore/bestbefore/scenarios"
)

// Options holds the flags of `demo`.
type Options struct {
	IO      *iostreams.IOStreams
	Version string
	OutDir  string
	Force   bool
	// PrintScenario is the directory --print-scenario writes into.
	PrintScenario string
	Set           []string
	Quiet         bool
	// Format is the summary's format on stdout: text or json.
	Format string
	// Protocol picks the demo: http (demo.yaml), grpc (oip.yaml, the
	// Open Inference Protocol over gRPC, a batching model) or openai
	// (llm.yaml, streamed chat completions from a model served with
	// continuous batching).
	Protocol string
}

// demoScenario is the embedded scenario of each --protocol, and what the
// demo says it starts.
var demoScenario = map[string]struct{ file, starts string }{
	"http":   {"demo.yaml", "the bundled prediction service (3 nodes, 1200 QPS configured)"},
	"grpc":   {"oip.yaml", "the bundled service as a model server (Open Inference Protocol over gRPC, 2 nodes, a batching model of 1000 calls/s configured)"},
	"openai": {"llm.yaml", "the bundled service as an LLM server (OpenAI-compatible chat completions streamed as server-sent events, 2 nodes, continuous batching of about 5,100 output tokens/s configured)"},
}

// NewCmdDemo builds `demo`.
// runF, when set, runs instead of the command (tests read the options).
func NewCmdDemo(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Find the best-before QPS of the bundled prediction service, in under a minute",
		Long: `Demo starts the bundled reference prediction service on loopback (3 node
processes behind a balancer, 1200 QPS of configured capacity), replays the
bundled recorded traffic through scenarios/demo.yaml at a ramping open-loop
rate, takes one node out at the N-1 rate to check the cluster survives it,
and prints the best-before QPS with a report.

Everything it needs is embedded in the binary: it works from any directory.`,
		Example: `  bestbefore demo
  bestbefore demo --out /tmp/demo --set load.step_duration=2s
  bestbefore demo --print-scenario my-test   # write demo.yaml and its traffic there, to start your own
  bestbefore demo --protocol grpc            # the same over gRPC: the Open Inference Protocol, a model that batches
  bestbefore demo --protocol openai          # streamed chat completions: time to first token, between tokens, tokens/s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.PrintScenario != "" {
				return printScenario(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.PrintScenario, "print-scenario", "", "write the demo's scenario (demo.yaml) and the traffic it replays into `DIR` (. for here), instead of running it; then edit it and bestbefore run DIR/demo.yaml")
	cmd.Flags().StringVarP(&opts.OutDir, "out", "o", "", "directory for result.json and reports (default a fresh reports/demo-<time>)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace the result an --out directory already holds")
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "override a key of the demo scenario, e.g. --set load.max_qps=900")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress output on stderr")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "summary on stdout: text or json (the same JSON summary as run)")
	cmdutil.FixedValues(cmd, "format", "text", "json")
	cmd.Flags().StringVar(&opts.Protocol, "protocol", "http", "http: the bundled service's HTTP API (demo.yaml); grpc: its Open Inference Protocol model over gRPC, behind a dynamic batcher (oip.yaml); openai: its OpenAI-compatible chat completions, streamed from a model served with continuous batching (llm.yaml)")
	cmdutil.FixedValues(cmd, "protocol", "http", "grpc", "openai")
	return cmd
}

// Run extracts the embedded scenarios and runs the demo.
func Run(ctx context.Context, opts *Options) error {
	if opts.Format == "" {
		opts.Format = "text"
	}
	if opts.Format != "text" && opts.Format != "json" {
		return cmdutil.BadInputf("--format %q: want text or json", opts.Format)
	}
	demo, err := pick(opts.Protocol)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bestbefore-demo-")
	if err != nil {
		return cmdutil.RunFailed(err)
	}
	defer os.RemoveAll(dir)
	if err := scenarios.Extract(dir); err != nil {
		return cmdutil.RunFailed(fmt.Errorf("extracting the demo scenario: %w", err))
	}
	out := opts.OutDir
	ios := opts.IO
	if !opts.Quiet {
		fmt.Fprintf(ios.ErrOut, "Starting %s and ramping the load; about a minute.\n", demo.starts)
	}
	ro := &cmdRun.Options{IO: opts.IO, Version: opts.Version, Scenario: filepath.Join(dir, demo.file), OutDir: out, Force: opts.Force, Set: opts.Set, Quiet: opts.Quiet, Format: opts.Format}
	return cmdRun.Run(ctx, ro, cmdRun.Wiring{
		Summary: func(w io.Writer, o *runner.Outcome) error {
			files := []string{o.ResultPath, filepath.Join(o.Dir, report.MarkdownFile), filepath.Join(o.Dir, report.HTMLFile)}
			if err := report.Summary(w, o.Result, report.Options{Version: opts.Version, Written: files, Width: ios.TerminalWidth()}); err != nil {
				return err
			}
			fmt.Fprintf(w, "\nNext: open %s, or run your own service:\n  bestbefore run my-scenario.yaml   (start from the demo's: bestbefore demo%s --print-scenario my-test)\n", filepath.Join(o.Dir, report.HTMLFile), protocolFlag(opts.Protocol))
			return nil
		},
	})
}

// printScenario writes the demo's scenario and traffic for a user to start
// from, refusing to replace a file.
func printScenario(opts *Options) error {
	demo, err := pick(opts.Protocol)
	if err != nil {
		return err
	}
	paths, err := scenarios.WriteScenario(demo.file, opts.PrintScenario)
	if err != nil {
		return cmdutil.BadInput(err)
	}
	w := opts.IO.Out
	for _, p := range paths {
		fmt.Fprintf(w, "wrote %s\n", p)
	}
	fmt.Fprintf(w, "Next: edit the target and the objectives, then: bestbefore run %s\n", filepath.Join(opts.PrintScenario, demo.file))
	return nil
}

// pick is the demo of a --protocol.
func pick(protocol string) (struct{ file, starts string }, error) {
	if protocol == "" {
		protocol = "http"
	}
	d, ok := demoScenario[protocol]
	if !ok {
		return d, cmdutil.BadInputf("--protocol %q: want http, grpc or openai", protocol)
	}
	return d, nil
}

// protocolFlag repeats --protocol in the advice, when it was given.
func protocolFlag(protocol string) string {
	if protocol == "" || protocol == "http" {
		return ""
	}
	return " --protocol " + protocol
}
