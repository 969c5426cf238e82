// Package run is the `bestbefore run` command.
package run

import (
	"github.com/spf13/cobra"

	"github.com/bestbefore/bestbefore/cmd/cmdutil"
)

// Options holds the flags of `run`.
type Options struct {
	IO       *cmdutil.Factory
	Scenario string
	OutDir   string
	Set      []string
	Quiet    bool
	Format   string
}

// NewCmdRun builds `run`; runF replaces the action in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f}
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml",
		Short: "Run a scenario: ramp the load, find the best-before QPS, write result.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scenario = args[0]
			if runF != nil {
				return runF(opts)
			}
			return cmdutil.BadInputf("run: not wired yet")
		},
	}
	cmd.Flags().StringVarP(&opts.OutDir, "out", "o", "", "directory for result.json and reports (default reports/<name>-<time>)")
	cmd.Flags().StringArrayVar(&opts.Set, "set", nil, "override a scenario key, e.g. --set load.max_qps=800 (repeatable)")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress output on stderr")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "summary format on stdout: text or json")
	return cmd
}
