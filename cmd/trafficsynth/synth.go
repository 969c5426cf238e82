// Package trafficsynth is the `traffic synth` command: it writes
// synthesized traffic for the bundled prediction service.
package trafficsynth

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/synth"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Options holds the flags of `traffic synth`.
type Options struct {
	IO    *iostreams.IOStreams
	Out   string
	Synth synth.Options
	Start string
}

// NewCmdSynth builds `synth`, to be attached under `traffic`.
// runF, when set, runs instead of the command (tests read the options).
func NewCmdSynth(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "synth --out FILE",
		Short: "Synthesize realistic traffic for the bundled prediction service",
		Long: `Writes a traffic file (NDJSON, gzip-compressed when FILE ends in .gz) of
POST /v1/predict requests: query popularity follows a Zipf law, users too,
k takes the usual values 5, 10, 20 and 50, and timestamps follow a daily
curve (quiet at night, busiest in the afternoon). The same flags and seed
always give the same bytes.`,
		Example: `  bestbefore traffic synth --out traffic.ndjson.gz --requests 30000 --seed 1
  bestbefore traffic synth --api oip-grpc --out oip.ndjson.gz --requests 5000   # for target.protocol: grpc
  bestbefore traffic synth --api openai-chat --out chat.ndjson.gz --requests 5000   # streamed completions
  bestbefore traffic synth --out - --requests 5 | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return synthRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Out, "out", "o", "", `file to write ("-" for stdout, uncompressed)`)
	fl.IntVarP(&opts.Synth.Requests, "requests", "n", 10000, "number of requests")
	fl.Int64Var(&opts.Synth.Seed, "seed", 1, "random seed")
	fl.StringVar(&opts.Start, "start", synth.DefaultStart.Format(time.RFC3339), "timestamp of the start of the traffic (RFC 3339)")
	fl.DurationVar(&opts.Synth.Span, "span", 24*time.Hour, "time the traffic covers")
	fl.IntVar(&opts.Synth.Queries, "queries", 3000, "distinct queries")
	fl.Float64Var(&opts.Synth.ZipfS, "zipf", 1.1, "Zipf exponent of query popularity (> 1)")
	fl.IntVar(&opts.Synth.Users, "users", 5000, "distinct users")
	fl.Float64Var(&opts.Synth.Anonymous, "anonymous", 0.2, "share of requests without a user")
	fl.StringVar(&opts.Synth.API, "api", synth.APIPredict, "what the requests call: "+strings.Join(synth.APIs, ", ")+" (the bundled service's /v1/predict; its Open Inference Protocol model over gRPC or REST, one row of 16 features a request; or its streamed OpenAI-compatible chat completions)")
	cmdutil.FixedValues(cmd, "api", synth.APIs...)
	cmd.MarkFlagRequired("out")
	return cmd
}

func synthRun(opts *Options) error {
	ios := opts.IO
	start, err := time.Parse(time.RFC3339, opts.Start)
	if err != nil {
		return cmdutil.BadInputf("--start: %q is not an RFC 3339 time such as 2026-11-25T00:00:00Z", opts.Start)
	}
	opts.Synth.Start = start
	// Zero means "default" in synth.Options; on the command line it is a mistake.
	for name, v := range map[string]int{"--requests": opts.Synth.Requests, "--queries": opts.Synth.Queries, "--users": opts.Synth.Users} {
		if v < 1 {
			return cmdutil.BadInputf("traffic synth: %s must be at least 1, got %d", name, v)
		}
	}
	if err := opts.Synth.Validate(); err != nil {
		return cmdutil.BadInputf("traffic synth: %v", err)
	}
	var w *traffic.Writer
	if opts.Out == "-" {
		w = traffic.NewWriter(nopCloser{ios.Out}, false)
	} else {
		w, err = traffic.Create(opts.Out)
		if err != nil {
			return cmdutil.RunFailed(err)
		}
	}
	if err := synth.Write(w, opts.Synth); err != nil {
		w.Close()
		if opts.Out != "-" {
			os.Remove(opts.Out)
		}
		return cmdutil.RunFailed(err)
	}
	if err := w.Close(); err != nil {
		return cmdutil.RunFailed(fmt.Errorf("writing %s: %w", opts.Out, err))
	}
	if opts.Out != "-" {
		fmt.Fprintf(ios.ErrOut, "wrote %d requests to %s\n", opts.Synth.Requests, opts.Out)
	}
	return nil
}

type nopCloser struct {
	w interface{ Write([]byte) (int, error) }
}

func (n nopCloser) Write(p []byte) (int, error) { return n.w.Write(p) }
func (nopCloser) Close() error                  { return nil }
