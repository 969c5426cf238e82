package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// RequireSubcommands makes every command of the tree under root that only
// groups subcommands (it has no action of its own) refuse what is not one
// of them: `bestbefore traffic improt x` is exit 2 with "did you mean
// import?", not a help page and exit 0. Without arguments such a command
// still prints its help.
func RequireSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		RequireSubcommands(c)
	}
	if !root.HasSubCommands() || root.Run != nil || root.RunE != nil {
		return
	}
	if root.SuggestionsMinimumDistance <= 0 {
		root.SuggestionsMinimumDistance = 2
	}
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return BadInputf("%s\nRun '%s --help' for usage", msg, cmd.CommandPath())
	}
}

// FixedValues makes shell completion offer values for the flag name of
// cmd, a flag that takes one of a fixed set.
func FixedValues(cmd *cobra.Command, name string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// UsageErrors makes every argument error of the tree under root a usage
// error (exit 2) saying where the usage is, so that no caller has to tell
// one from cobra's message text.
func UsageErrors(root *cobra.Command) {
	for _, c := range root.Commands() {
		UsageErrors(c)
	}
	check := root.Args
	if check == nil {
		return
	}
	root.Args = func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var ee *ExitError
		if err == nil || errors.As(err, &ee) {
			return err
		}
		return BadInput(fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath()))
	}
}
