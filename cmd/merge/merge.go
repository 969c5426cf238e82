// Package merge is the `bestbefore merge` command.
package merge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/merge"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
	"github.com/bestbefore/bestbefore/pkg/runner"
)

// Options holds the arguments and flags of `merge`.
type Options struct {
	IO        *iostreams.IOStreams
	Version   string
	Shards    []string
	Out       string
	Partial   bool
	Tolerance time.Duration
	Quiet     bool
}

// NewCmdMerge builds `merge SHARD.json... --out DIR`; runF replaces the
// action in tests.
func NewCmdMerge(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "merge SHARD.json... [--out DIR]",
		Short: "Merge the results of shards run on several machines into one result",
		Long: `Merge combines the result.json files written by ` + "`run --shard i/n`" + ` on
several generators into one result, as if one machine had sent the whole load.

The shards' HDR latency histograms are added step by step and second by
second (exact at histogram resolution), counts and errors are summed, and the
percentiles, SLO verdicts, best-before and capacity model are computed again
from the sums: percentiles are never averaged.

Every shard 1..n of the same plan must be given exactly once, and their steps
must have started within --tolerance of each other. Anything else is refused
with exit code 2 and a message naming the file.

--out DIR writes DIR/result.json, DIR/report.md and DIR/report.html;
--out FILE.json writes only that file.

An argument holding * ? or [ is expanded by merge itself, as a shell would
(for containers without one): it must match at least one file.`,
		Example: `  bestbefore merge results/shard-*.json --out reports/merged
  bestbefore merge a.json b.json c.json --out merged.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shards, err := expandShards(args)
			if err != nil {
				return err
			}
			opts.Shards = shards
			if opts.Tolerance <= 0 {
				return cmdutil.BadInputf("merge: --tolerance must be positive, got %v", opts.Tolerance)
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "directory for result.json and reports, or a FILE.json (default reports/<name>-merged-<time>)")
	cmd.Flags().BoolVar(&opts.Partial, "partial", false, "when a shard stopped early, merge the steps every shard completed")
	cmd.Flags().DurationVar(&opts.Tolerance, "tolerance", merge.DefaultTolerance, "largest allowed spread of a step's start time across shards")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on success")
	return cmd
}

// expandShards expands the arguments that are glob patterns, in order; a
// pattern that matches nothing is bad input, as a missing file is.
func expandShards(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, cmdutil.BadInputf("merge: %s: %v", a, err)
		}
		if len(m) == 0 {
			return nil, cmdutil.BadInputf("merge: %s matches no file", a)
		}
		out = append(out, m...)
	}
	return out, nil
}

// Run merges the shards and writes the result.
func Run(opts *Options) error {
	ios := opts.IO
	r, err := merge.Files(opts.Shards, merge.Options{Tolerance: opts.Tolerance, Partial: opts.Partial})
	if err != nil {
		var me *merge.Error
		if errors.As(err, &me) {
			return cmdutil.BadInput(fmt.Errorf("merge: %w", err))
		}
		return cmdutil.RunFailed(fmt.Errorf("merge: %w", err))
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join("reports", fmt.Sprintf("%s-merged-%s", runner.SafeName(r.Name), time.Now().Format("20060102-150405")))
	}
	var written []string
	if strings.HasSuffix(strings.ToLower(out), ".json") {
		if d := filepath.Dir(out); d != "." {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return cmdutil.RunFailed(err)
			}
		}
		if err := result.Write(out, r); err != nil {
			return cmdutil.RunFailed(err)
		}
		written = []string{out}
	} else {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return cmdutil.RunFailed(err)
		}
		p := filepath.Join(out, "result.json")
		if err := result.Write(p, r); err != nil {
			return cmdutil.RunFailed(err)
		}
		if err := report.WriteAll(out, r, report.Options{Version: opts.Version}); err != nil {
			return cmdutil.RunFailed(fmt.Errorf("merge: reports: %w", err))
		}
		written = []string{p, filepath.Join(out, report.MarkdownFile), filepath.Join(out, report.HTMLFile)}
	}
	if opts.Quiet {
		return nil
	}
	fmt.Fprintf(ios.ErrOut, "merged %d shards of plan %s\n", r.Shard.Count, r.Shard.Plan)
	return report.Summary(ios.Out, r, report.Options{Version: opts.Version, Written: written, Width: ios.TerminalWidth()})
}
