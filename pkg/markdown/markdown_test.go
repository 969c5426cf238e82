package markdown_test

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/bestbefore/bestbefore/pkg/markdown"
)

// contexts are where the reports put values: mid-paragraph, as a list
// item, as a table cell, as a heading's text.
var contexts = []string{"before %s after", "- %s", "| h |\n| --- |\n| %s |", "# bestbefore: %s"}

func parseIn(t *testing.T, context, v string) (kinds []string, got string) {
	src := []byte(strings.Replace(context, "%s", markdown.Text(v), 1))
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(text.NewReader(src))
	var b bytes.Buffer
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind().String() {
		case "Document", "Paragraph", "List", "ListItem", "TextBlock", "Heading", "Table", "TableHeader", "TableRow", "TableCell":
		case "Text":
			b.Write(n.(*ast.Text).Segment.Value(src))
		case "String":
			b.Write(n.(*ast.String).Value)
		default:
			kinds = append(kinds, n.Kind().String())
		}
		return ast.WalkContinue, nil
	})
	return kinds, b.String()
}

// No value interpolated into a report can create a node other than text:
// links, images, HTML, code spans, emphasis, headings, table cells.
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"a`![x](http://evil/x.png)`", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
		"**bold** _em_ ~~del~~", "# heading\n- list", "a | b | c", "http://example.com/auto", "&amp; &#x3C;",
		"name\\", "``` fenced", "[ref]: http://x", "<https://x>", "x\r\n===", "1. item", "12) x", "- item", "+ x", "www.example.com",
		"ann@example.com", "https://example.com/a?b=c", "---", "> quote",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsRune(v, 0) {
			return // CommonMark replaces NUL; not a Markdown construct
		}
		for _, c := range contexts {
			if kinds, _ := parseIn(t, c, v); len(kinds) > 0 {
				t.Errorf("%q in %q became %v", v, c, kinds)
			}
		}
	})
}

// The escaped value reads, rendered, as the value itself.
func TestTextKeepsTheWords(t *testing.T) {
	for _, v := range []string{"checkout-api v2.1 (eu)", "p99 > 100ms | errors: 0.1%", "a`![x](http://evil/x.png)`", `back\slash & <b>`} {
		var out bytes.Buffer
		if err := goldmark.New(goldmark.WithExtensions(extension.GFM)).Convert([]byte(markdown.Text(v)), &out); err != nil {
			t.Fatal(err)
		}
		got := html.UnescapeString(strings.TrimSuffix(strings.TrimPrefix(out.String(), "<p>"), "</p>\n"))
		if got != v {
			t.Errorf("%q renders as %q", v, got)
		}
	}
}
