// Package markdown writes text from outside (a scenario name, a path, a
// note quoting a server) into the Markdown reports a pull request
// renders, so that it stays text: no link, image, HTML, code span,
// emphasis, heading, list or table cell can come out of it.
package markdown

import (
	"strings"
	"unicode"
)

// Text escapes s for a Markdown paragraph, list item or table cell, as
// GitHub renders them (GFM: tables, strikethrough, autolinks). It
// backslash-escapes what starts an inline construct anywhere (\ ` * [ ]
// < > & | ~, and _ at a word's edge), what makes an autolink (the ':' of "://", the '.' of
// "www.", '@'), and what starts a block at the start of the text (#, -,
// +, =, "1." or "1)"), drops leading blanks (four start a code block) and
// turns line breaks into spaces; the rest, prose
// punctuation included, stays as it is, so a raw report still reads.
// Never put its result in a code span: backslashes do not escape there.
func Text(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	// Leading blanks are dropped: four of them start a code block.
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	rs := []rune(strings.TrimLeft(s, " \t"))
	start := true // no text yet: a block could begin here
	for i, r := range rs {
		esc := false
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '&', '|', '~', '@':
			esc = true
		case '_':
			// Inside a word (snake_case) an underscore never opens or
			// closes emphasis: only one at a word's edge is escaped.
			esc = i == 0 || i == len(rs)-1 || !alnum(rs[i-1]) || !alnum(rs[i+1])
		case ':':
			esc = i+2 < len(rs) && rs[i+1] == '/' && rs[i+2] == '/'
		case '.':
			esc = i >= 3 && strings.EqualFold(string(rs[i-3:i]), "www")
		case '#', '-', '+', '=':
			esc = start
		}
		if start && unicode.IsDigit(r) {
			// "1." or "1)" at the start is an ordered list.
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			if j < len(rs) && (rs[j] == '.' || rs[j] == ')') {
				b.WriteString(string(rs[i:j]))
				b.WriteByte('\\')
				b.WriteRune(rs[j])
				return b.String() + textRest(rs[j+1:])
			}
		}
		if esc {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
		if !unicode.IsSpace(r) {
			start = false
		}
	}
	return b.String()
}

// textRest escapes what follows a leading list marker: no longer at the
// start of a block.
func textRest(rs []rune) string {
	return Text("x" + string(rs))[1:]
}

// Bold escapes s as Text does, but keeps the **bold** spans the text
// itself marks (a report's own emphasis around an interpolated value).
func Bold(s string) string {
	parts := strings.Split(s, "**")
	for i, p := range parts {
		lead := ""
		if i > 0 { // mid-line: its blanks are the text's own
			lead = p[:len(p)-len(strings.TrimLeft(p, " "))]
		}
		parts[i] = lead + Text(p)
		if i%2 == 1 && i < len(parts)-1 {
			parts[i] = "**" + parts[i] + "**"
		}
	}
	return strings.Join(parts, "")
}

func alnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
