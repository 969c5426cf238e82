// Package report is the `bestbefore report` command.
package report

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/report"
	"github.com/bestbefore/bestbefore/pkg/result"
)

// Options holds the arguments and flags of `report`.
type Options struct {
	IO      *iostreams.IOStreams
	Version string
	Result  string
	Format  string
	Out     string
	// Tags tags each hlog interval with its step.
	Tags bool
}

// NewCmdReport builds `report RESULT.json --format md|html|json|hlog [--out FILE]`.
// runF, when set, runs instead of the command (tests read the options).
func NewCmdReport(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "report RESULT.json",
		Short: "Render a result again: Markdown, HTML, JSON or an HdrHistogram interval log",
		Long: `Render a result.json written by run, merge or demo in any format:

  md    GitHub-flavoured Markdown for a pull request or CI job summary (default)
  html  one self-contained page with charts, no network needed to view it
  json  the result document itself
  hlog  the steps' latency histograms as an HdrHistogram interval log, one
        interval per step, values in microseconds; HdrHistogram's own
        HistogramLogProcessor reads it as is (--tags names each interval
        by its step, for -tag step-03-400qps)

The report goes to stdout unless --out names a file.`,
		Example: `  bestbefore report reports/demo/result.json
  bestbefore report reports/demo/result.json --format html --out demo.html
  bestbefore report reports/demo/result.json --format hlog > demo.hlog
  java -cp hdrhistogram.jar org.HdrHistogram.HistogramLogProcessor -i demo.hlog`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Result = args[0]
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "md", "output format: "+strings.Join(report.Formats, ", "))
	cmdutil.FixedValues(cmd, "format", report.Formats...)
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write to this file (atomically) instead of stdout")
	cmd.Flags().BoolVar(&opts.Tags, "tags", false, "hlog: tag each interval with its step (step-03-400qps), for readers that select by tag")
	return cmd
}

func run(opts *Options) error {
	if !validFormat(opts.Format) {
		return cmdutil.BadInputf("report: --format %q: want one of %s", opts.Format, strings.Join(report.Formats, ", "))
	}
	r, err := result.Read(opts.Result)
	if err != nil {
		// result.Read names the file in both the open and the decode error.
		return cmdutil.BadInputf("report: %v", err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, opts.Format, r, report.Options{Version: opts.Version, HLog: report.HLogOptions{Tagged: opts.Tags}}); err != nil {
		// A histogram that does not decode is bad input, not a failed run.
		return cmdutil.BadInputf("report: %s: %v", opts.Result, err)
	}
	if opts.Out == "" {
		if _, err := opts.IO.Out.Write(buf.Bytes()); err != nil {
			return cmdutil.RunFailed(fmt.Errorf("report: %w", err))
		}
		return nil
	}
	if err := result.WriteFileAtomic(opts.Out, buf.Bytes()); err != nil {
		return cmdutil.RunFailed(err)
	}
	return nil
}

func validFormat(f string) bool {
	for _, v := range report.Formats {
		if f == v {
			return true
		}
	}
	return false
}
