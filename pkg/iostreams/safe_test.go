package iostreams_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/iostreams"
)

// Escape sequences from outside never reach a terminal: the window-title
// and clear-screen sequences, a carriage return, C1 controls and invalid
// bytes are printed as visible escapes; text, newlines, tabs and any
// printable Unicode stay as they are.
func TestSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\x1b]0;PWNED\x07\x1b[2J", `\x1b]0;PWNED\a\x1b[2J`},
		{"ok\r\nfake line", `ok\r` + "\nfake line"},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bad \xff byte", `bad \xff byte`},
		{"plain — text, ✓, 日本\n\tindented", "plain — text, ✓, 日本\n\tindented"},
	} {
		if got := iostreams.Safe(tc.in); got != tc.want {
			t.Errorf("Safe(%q) = %q, want %q", tc.in, got, tc.want)
		}
		var b bytes.Buffer
		iostreams.SafeWriter(&b).Write([]byte(tc.in))
		if b.String() != tc.want || strings.ContainsAny(b.String(), "\x1b\x07\r\u009b") {
			t.Errorf("SafeWriter(%q) wrote %q", tc.in, b.String())
		}
	}
}
