package cmd_test

import (
	"context"
	"strings"
	"testing"
)

// A mistyped subcommand is exit 2 with a suggestion, at every level, as
// at the top; a group without arguments still prints its help.
func TestMistypedSubcommands(t *testing.T) {
	for args, want := range map[string]string{
		"nope":             `unknown command "nope"`,
		"traffic improt x": "Did you mean this?\n\timport",
		"target srve":      "Did you mean this?\n\tserve",
		"completion bsh":   "Did you mean this?\n\tbash",
	} {
		code, _, stderr := execute(t, context.Background(), strings.Fields(args)...)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d (want 2), stderr %q, want %q", args, code, stderr, want)
		}
	}
	code, stdout, _ := execute(t, context.Background(), "traffic")
	if code != 0 || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("traffic alone: exit %d, stdout %q", code, stdout)
	}
}

// Shell completion offers the values of flags that take one of a fixed set.
func TestCompletionOfFixedFlagValues(t *testing.T) {
	for args, want := range map[string][]string{
		"traffic import --from ":  {"nginx", "apache", "har", "vegeta"},
		"report r.json --format ": {"md", "html", "json", "hlog"},
		"run s.yaml --format ":    {"text", "json"},
		"demo --format ":          {"text", "json"},
	} {
		f := append([]string{"__complete"}, strings.Fields(args)...)
		_, stdout, _ := execute(t, context.Background(), append(f, "")...)
		for _, w := range want {
			if !strings.Contains(stdout, w+"\n") {
				t.Errorf("%q completes to %q, want %s among them", args, stdout, w)
			}
		}
	}
}
