package cmdutil

import (
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
		return BadInputf("%s\nRun '%s --help' for usage.", msg, cmd.CommandPath())
	}
}

// FixedValues makes shell completion offer values for the flag name of
// cmd, a flag that takes one of a fixed set.
func FixedValues(cmd *cobra.Command, name string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
