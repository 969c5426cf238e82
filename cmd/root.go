// Package cmd wires the cobra commands. Each command is an Options struct
// its flags fill and a run function that calls pkg/ and maps the outcome
// to an exit code; NewCmdX(f, runF) lets a test read the options without
// running anything. Usage errors are typed (cmdutil.BadInput, exit 2).
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	cmdCalibrate "github.com/bestbefore/bestbefore/cmd/calibrate"
	"github.com/bestbefore/bestbefore/cmd/cmdutil"
	cmdCompare "github.com/bestbefore/bestbefore/cmd/compare"
	cmdDemo "github.com/bestbefore/bestbefore/cmd/demo"
	cmdHistory "github.com/bestbefore/bestbefore/cmd/history"
	cmdMerge "github.com/bestbefore/bestbefore/cmd/merge"
	cmdPlan "github.com/bestbefore/bestbefore/cmd/plan"
	cmdRecord "github.com/bestbefore/bestbefore/cmd/record"
	cmdReport "github.com/bestbefore/bestbefore/cmd/report"
	cmdRun "github.com/bestbefore/bestbefore/cmd/run"
	cmdSimulate "github.com/bestbefore/bestbefore/cmd/simulate"
	cmdTarget "github.com/bestbefore/bestbefore/cmd/target"
	cmdTraffic "github.com/bestbefore/bestbefore/cmd/traffic"
	cmdVersion "github.com/bestbefore/bestbefore/cmd/version"
	"github.com/bestbefore/bestbefore/pkg/iostreams"
	"github.com/bestbefore/bestbefore/pkg/version"
	"github.com/bestbefore/bestbefore/target"
)

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "bestbefore",
		Short: "Load testing and capacity planning: how much load your service takes, and until when",
		Long: `bestbefore replays recorded traffic at a ramping, open-loop rate, measures
latency from each request's intended send time, and finds the best-before QPS:
the highest load at which the service meets its objectives, with the headroom
left after losing one node.

Start with:
  bestbefore demo                       the bundled target, traffic and a report
  bestbefore run scenario.yaml          your own scenario`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       f.Version,
	}
	var cpuProfile string
	var stopProfile func()
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the command to `FILE` (for studying the generator's own cost)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cpuProfile == "" {
			return nil
		}
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return cmdutil.BadInputf("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return cmdutil.BadInputf("--cpuprofile: %v", err)
		}
		stopProfile = func() { pprof.StopCPUProfile(); pf.Close() }
		return nil
	}
	root.PersistentPostRun = func(cmd *cobra.Command, args []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.BadInput(fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath()))
	})
	root.AddCommand(cmdCalibrate.NewCmdCalibrate(f, nil))
	root.AddCommand(cmdCompare.NewCmdCompare(f, nil))
	root.AddCommand(cmdDemo.NewCmdDemo(f, nil))
	root.AddCommand(cmdHistory.NewCmdHistory(f))
	root.AddCommand(cmdMerge.NewCmdMerge(f, nil))
	root.AddCommand(cmdPlan.NewCmdPlan(f, nil))
	root.AddCommand(cmdReport.NewCmdReport(f, nil))
	root.AddCommand(cmdRun.NewCmdRun(f, nil))
	root.AddCommand(cmdSimulate.NewCmdSimulate(f, nil))
	root.AddCommand(cmdTarget.NewCmdTarget(f))
	root.AddCommand(cmdRecord.NewCmdRecord(f, nil))
	root.AddCommand(cmdTraffic.NewCmdTraffic(f))
	root.AddCommand(cmdVersion.NewCmdVersion(f))
	// Cobra adds its completion command at Execute; add it now, so that it
	// too refuses a mistyped shell.
	root.InitDefaultCompletionCmd()
	cmdutil.RequireSubcommands(root)
	cmdutil.UsageErrors(root)
	return root
}

// Main runs the command line and returns the process exit code.
func Main() int {
	// A bundled target node is this same binary started again.
	if handled, code := target.ChildMain(); handled {
		return code
	}
	ios := iostreams.System()
	f := &cmdutil.Factory{IOStreams: ios, Version: version.Version(), Executable: os.Executable}
	root := NewCmdRoot(f)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	code := cmdutil.CodeOf(err)
	if !errors.Is(err, cmdutil.ErrSilent) {
		var ee *cmdutil.ExitError
		if !(errors.As(err, &ee) && ee.Err == nil) {
			fmt.Fprintln(ios.ErrOut, "bestbefore:", iostreams.Safe(err.Error()))
		}
	}
	return code
}
