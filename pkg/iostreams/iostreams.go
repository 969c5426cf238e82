// Package iostreams wraps standard input and output so commands can be
// tested without a terminal. Stdout carries results only; progress and
// diagnostics go to stderr, so `| jq` always works.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// IOStreams holds a command's streams and whether each is a terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stderrTTY bool
}

// System returns the process's own streams.
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr),
	}
}

// Test returns streams backed by buffers, none of them a terminal.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdoutTTY overrides terminal detection (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// ProgressOut returns where progress bars go: stderr when it is a
// terminal, nil (discard) otherwise.
func (s *IOStreams) ProgressOut() io.Writer {
	if s.stderrTTY {
		return s.ErrOut
	}
	return nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// TerminalWidth is the width of the terminal stdout or stderr writes to,
// in columns; 0 when neither is a terminal.
func (s *IOStreams) TerminalWidth() int {
	for _, f := range []struct {
		w   io.Writer
		tty bool
	}{{s.Out, s.stdoutTTY}, {s.ErrOut, s.stderrTTY}} {
		if file, ok := f.w.(*os.File); ok && f.tty {
			if w, _, err := term.GetSize(int(file.Fd())); err == nil && w > 0 {
				return w
			}
		}
	}
	return 0
}

// Wrap breaks s into lines of at most width columns at spaces (and after
// commas in a long list), never inside a word; every line after the
// first starts with indent spaces. A word longer than a line stays whole
// on a line of its own. width ≤ 0 leaves s as it is.
func Wrap(s string, width, indent int) string {
	if width <= 0 || runeLen(s) <= width {
		return s
	}
	var b strings.Builder
	pad := strings.Repeat(" ", indent)
	col, start := 0, 0 // the column, and where the line's text began
	for i, word := range splitWords(s) {
		n := runeLen(word)
		switch {
		case i == 0:
		case col+n > width && col > start:
			b.WriteString("\n" + pad)
			col, start = indent, indent
			word = strings.TrimLeft(word, " ")
			n = runeLen(word)
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}

// splitWords splits s before each space and after each comma, keeping
// both, so that joining the pieces gives s back.
func splitWords(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		switch {
		case r == ' ' && i > start:
			out = append(out, s[start:i])
			start = i
		case r == ',' && i+1 < len(s) && s[i+1] != ' ':
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
