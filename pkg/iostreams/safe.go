package iostreams

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Safe returns s with every character a terminal would act on written as
// a visible escape: the C0 controls but newline and tab (ESC starts the
// sequences that retitle a window or clear a screen, CR overwrites a
// line), DEL and the C1 controls. Text from outside (a target's error, a
// scenario name, a branch, a server's reply) goes through it before it
// is printed; invalid UTF-8 bytes are escaped too.
func Safe(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case control(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func control(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c >= 0x80 {
			if c >= 0x80 {
				// Multi-byte: only C1 controls and invalid bytes matter.
				r, n := utf8.DecodeRuneInString(s[i:])
				if (r == utf8.RuneError && n == 1) || control(r) {
					return true
				}
				i += n - 1
				continue
			}
			return true
		}
	}
	return false
}

// SafeWriter writes everything through Safe: for output that interpolates
// text from outside and draws no terminal effects of its own (a summary,
// a report on stdout, a list).
func SafeWriter(w io.Writer) io.Writer { return safeWriter{w} }

type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if !needsEscape(string(p)) {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, Safe(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
