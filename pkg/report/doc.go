package report

import (
	"html"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/markdown"
)

// The report's content is built once, as sections of blocks (paragraphs,
// lists, tables), and rendered to HTML and to Markdown by the blocks
// themselves: a section both reports show is written in one place, and
// a section added there is in both. What only one format shows (the
// HTML's cards and charts, the Markdown's quoted headline) its renderer
// writes around the sections.

// section is one titled part of a report.
type section struct {
	id, title string
	blocks    []block
	// htmlOnly is a section the Markdown leaves out (the charts).
	htmlOnly bool
}

// block is a piece of a section that renders itself in either format.
type block interface {
	html(b *strings.Builder)
	markdown(b *strings.Builder)
}

func (s section) html(b *strings.Builder) {
	b.WriteString("<section id=\"" + s.id + "\">\n<h2>" + html.EscapeString(s.title) + "</h2>\n")
	for _, bl := range s.blocks {
		bl.html(b)
	}
	b.WriteString("</section>\n")
}

func (s section) markdown(b *strings.Builder) {
	if s.htmlOnly {
		return
	}
	b.WriteString("## " + s.title + "\n\n")
	for _, bl := range s.blocks {
		bl.markdown(b)
	}
}

// text is a run of prose; **bold** marks the parts to stress when marked.
type text struct {
	s      string
	marked bool
}

func (t text) html() string {
	if t.marked {
		return boldHTML(t.s)
	}
	return html.EscapeString(t.s)
}

func (t text) markdown() string {
	if t.marked {
		return markdown.Bold(t.s)
	}
	return markdown.Text(t.s)
}

// para is a paragraph; a note is the small print under a table or chart.
type para struct {
	text
	note bool
}

func (p para) html(b *strings.Builder) {
	if p.note {
		b.WriteString("<p class=\"note\">" + p.text.html() + "</p>\n")
		return
	}
	b.WriteString("<p>" + p.text.html() + "</p>\n")
}

func (p para) markdown(b *strings.Builder) { b.WriteString(p.text.markdown() + "\n\n") }

// item is a list item: a bold lead-in (Knee:), its text, and sub-items.
type item struct {
	lead string
	text
	sub []string
}

// list is a bulleted list.
type list []item

func (l list) html(b *strings.Builder) {
	b.WriteString("<ul>\n")
	for _, it := range l {
		b.WriteString("<li>")
		if it.lead != "" {
			b.WriteString("<strong>" + html.EscapeString(it.lead) + "</strong> ")
		}
		b.WriteString(it.text.html())
		if len(it.sub) > 0 {
			b.WriteString("\n<ul>\n")
			for _, s := range it.sub {
				b.WriteString("<li>" + html.EscapeString(s) + "</li>\n")
			}
			b.WriteString("</ul>\n")
		}
		b.WriteString("</li>\n")
	}
	b.WriteString("</ul>\n")
}

func (l list) markdown(b *strings.Builder) {
	for _, it := range l {
		b.WriteString("- ")
		if it.lead != "" {
			b.WriteString("**" + markdown.Text(it.lead) + "** ")
		}
		b.WriteString(it.text.markdown() + "\n")
		for _, s := range it.sub {
			b.WriteString("  - " + markdown.Text(s) + "\n")
		}
	}
	b.WriteString("\n")
}

// cell is one table cell: a number is right-aligned; a verdict carries
// its pass mark; wrap lets long text break; sample is a message quoted.
type cell struct {
	s            string
	num          bool
	verdict      *bool
	wrap, sample bool
}

func num(s string) cell   { return cell{s: s, num: true} }
func plain(s string) cell { return cell{s: s} }

func verdict(s string, pass bool) cell { return cell{s: s, num: true, verdict: &pass} }

// table is a table with one header row; the columns of numbers are
// right-aligned (the first row says which).
type table struct {
	class string
	head  []string
	rows  [][]cell
}

func (t table) html(b *strings.Builder) {
	b.WriteString("<div class=\"scroll\"><table")
	if t.class != "" {
		b.WriteString(" class=\"" + t.class + "\"")
	}
	b.WriteString(">\n<thead><tr>")
	for _, h := range t.head {
		b.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.rows {
		b.WriteString("<tr>")
		for _, c := range row {
			var cls []string
			if c.num {
				cls = append(cls, "n")
			}
			if c.wrap {
				cls = append(cls, "wrap")
			}
			if c.sample {
				cls = append(cls, "sample")
			}
			s := html.EscapeString(c.s)
			if c.verdict != nil {
				cls = append(cls, passClass(*c.verdict))
				s = check(*c.verdict) + " " + s
			}
			if len(cls) > 0 {
				b.WriteString("<td class=\"" + strings.Join(cls, " ") + "\">" + s + "</td>")
			} else {
				b.WriteString("<td>" + s + "</td>")
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n")
}

func (t table) markdown(b *strings.Builder) {
	b.WriteString("|")
	for _, h := range t.head {
		b.WriteString(" " + h + " |")
	}
	b.WriteString("\n|")
	for i := range t.head {
		if len(t.rows) > 0 && i < len(t.rows[0]) && t.rows[0][i].num {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		b.WriteString("|")
		for _, c := range row {
			s := c.s
			if !c.num { // numbers and units are the report's own
				s = markdown.Text(s)
			}
			if c.verdict != nil {
				s = mark(*c.verdict) + " " + s
			}
			b.WriteString(" " + s + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// details is content folded away under a summary line.
type details struct {
	summary string
	blocks  []block
}

func (d details) html(b *strings.Builder) {
	b.WriteString("<details>\n<summary>" + html.EscapeString(d.summary) + "</summary>\n")
	for _, bl := range d.blocks {
		bl.html(b)
	}
	b.WriteString("</details>\n")
}

func (d details) markdown(b *strings.Builder) {
	b.WriteString("<details><summary>" + html.EscapeString(d.summary) + "</summary>\n\n")
	for _, bl := range d.blocks {
		bl.markdown(b)
	}
	b.WriteString("</details>\n\n")
}
