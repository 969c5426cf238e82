package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A small, dependency-free line-chart writer: every chart in report.html is
// an inline <svg> drawn here (see the ADR on hand-written SVG charts). Text
// uses currentColor so it follows the page's light or dark theme.

const (
	svgW, svgH             = 720.0, 380.0
	padL, padR, padT, padB = 62.0, 18.0, 44.0, 46.0
)

var palette = []string{"#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"}

type point struct{ X, Y float64 }

type series struct {
	Name    string
	Color   string
	Points  []point
	Dash    bool // dashed line
	NoLine  bool // markers only
	NoMarks bool // line only
	// Ref series (an ideal line, a model curve) are drawn but not counted
	// as measured points.
	Ref bool
	// Tip formats a marker's tooltip; nil uses the axes' formats.
	Tip func(p point) string
}

type refLine struct {
	Value float64
	Label string
	Color string
}

type axis struct {
	Label  string
	Log    bool
	Min    float64
	Max    float64
	Fixed  bool // Min and Max are given, not computed from the data
	Format func(float64) string
	// Ticks replaces the computed ticks.
	Ticks []float64
}

type chart struct {
	Name, Title string
	X, Y        axis
	Series      []series
	HLines      []refLine
	VLines      []refLine
}

// points counts the measured points the chart will plot.
func (c *chart) points() int {
	n := 0
	for _, s := range c.Series {
		if s.Ref {
			continue
		}
		for _, p := range s.Points {
			if c.visible(p) {
				n++
			}
		}
	}
	return n
}

func (c *chart) visible(p point) bool {
	if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
		return false
	}
	return (!c.X.Log || p.X > 0) && (!c.Y.Log || p.Y > 0)
}

// scale fixes the axis range from the values to show.
func (a *axis) scale(vals []float64) {
	if a.Fixed {
		return
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) || (a.Log && v <= 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
		if a.Log {
			lo, hi = 1, 10
		}
	}
	if a.Log {
		a.Min = math.Pow(10, math.Floor(math.Log10(lo)))
		a.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
		if a.Max <= a.Min {
			a.Max = a.Min * 10
		}
		return
	}
	if lo > 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	a.Min = math.Floor(lo/step) * step
	a.Max = math.Ceil(hi/step) * step
	if a.Max == hi && hi > 0 {
		a.Max += step
	}
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / e; {
	case f <= 1:
		return e
	case f <= 2:
		return 2 * e
	case f <= 5:
		return 5 * e
	}
	return 10 * e
}

func (a *axis) ticks() []float64 {
	if a.Ticks != nil {
		return a.Ticks
	}
	var t []float64
	if a.Log {
		decades := math.Log10(a.Max / a.Min)
		mult := []float64{1, 2, 5}
		if decades > 3 {
			mult = []float64{1}
		}
		for d := a.Min; d <= a.Max*1.0001; d *= 10 {
			for _, m := range mult {
				if v := d * m; v <= a.Max*1.0001 {
					t = append(t, v)
				}
			}
		}
		return t
	}
	step := niceStep((a.Max - a.Min) / 5)
	for v := a.Min; v <= a.Max+step/1e6; v += step {
		t = append(t, math.Round(v/step)*step)
	}
	return t
}

// frac maps v to 0..1 along the axis.
func (a *axis) frac(v float64) float64 {
	if a.Log {
		return math.Log10(v/a.Min) / math.Log10(a.Max/a.Min)
	}
	return (v - a.Min) / (a.Max - a.Min)
}

func (a *axis) label(v float64) string {
	if a.Format != nil {
		return a.Format(v)
	}
	return tickNum(v)
}

func tickNum(v float64) string {
	switch av := math.Abs(v); {
	case av >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case av >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func tickMS(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'g', 6, 64) + " s"
	}
	return strconv.FormatFloat(v, 'g', 6, 64) + " ms"
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// render writes the chart as a <figure> holding one <svg>.
func (c *chart) render(b *strings.Builder) {
	var xs, ys []float64
	for _, s := range c.Series {
		for _, p := range s.Points {
			xs = append(xs, p.X)
			ys = append(ys, p.Y)
		}
	}
	for _, l := range c.HLines {
		ys = append(ys, l.Value)
	}
	for _, l := range c.VLines {
		xs = append(xs, l.Value)
	}
	c.X.scale(xs)
	c.Y.scale(ys)
	pw, ph := svgW-padL-padR, svgH-padT-padB
	px := func(v float64) float64 { return padL + c.X.frac(v)*pw }
	py := func(v float64) float64 { return padT + (1-c.Y.frac(v))*ph }
	inX := func(v float64) bool { return v >= c.X.Min-1e-9 && v <= c.X.Max+1e-9 && (!c.X.Log || v > 0) }
	inY := func(v float64) bool { return v >= c.Y.Min-1e-9 && v <= c.Y.Max+1e-9 && (!c.Y.Log || v > 0) }

	fmt.Fprintf(b, "<figure class=\"chart\" id=\"chart-%s\">\n<figcaption>%s</figcaption>\n", c.Name, html.EscapeString(c.Title))
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" data-chart=\"%s\" data-points=\"%d\" viewBox=\"0 0 %g %g\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"%s\">\n",
		c.Name, c.points(), svgW, svgH, html.EscapeString(c.Title))
	fmt.Fprintf(b, "<title>%s</title>\n", html.EscapeString(c.Title))

	// Grid and ticks.
	b.WriteString("<g class=\"grid\" font-size=\"11\" fill=\"currentColor\">\n")
	for _, t := range c.Y.ticks() {
		if !inY(t) {
			continue
		}
		y := py(t)
		fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"currentColor\" stroke-opacity=\"0.15\"/>", f1(padL), f1(y), f1(padL+pw), f1(y))
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>\n", f1(padL-6), f1(y+4), html.EscapeString(c.Y.label(t)))
	}
	for _, t := range c.X.ticks() {
		if !inX(t) {
			continue
		}
		x := px(t)
		fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"currentColor\" stroke-opacity=\"0.1\"/>", f1(x), f1(padT), f1(x), f1(padT+ph))
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n", f1(x), f1(padT+ph+16), html.EscapeString(c.X.label(t)))
	}
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"currentColor\" stroke-opacity=\"0.4\"/>\n", f1(padL), f1(padT), f1(pw), f1(ph))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", f1(padL+pw/2), f1(svgH-8), html.EscapeString(c.X.Label))
	fmt.Fprintf(b, "<text transform=\"translate(14 %s) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", f1(padT+ph/2), html.EscapeString(c.Y.Label))
	b.WriteString("</g>\n")

	// Reference lines: objectives, best-before marks.
	for _, l := range c.HLines {
		if !inY(l.Value) {
			continue
		}
		y := py(l.Value)
		fmt.Fprintf(b, "<g class=\"ref\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text x=\"%s\" y=\"%s\" text-anchor=\"end\" font-size=\"11\" fill=\"%s\">%s</text></g>\n",
			f1(padL), f1(y), f1(padL+pw), f1(y), l.Color, f1(padL+pw-4), f1(y-4), l.Color, html.EscapeString(l.Label))
	}
	for i, l := range c.VLines {
		if !inX(l.Value) {
			continue
		}
		x := px(l.Value)
		fmt.Fprintf(b, "<g class=\"ref\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/><text x=\"%s\" y=\"%s\" font-size=\"11\" fill=\"%s\">%s</text></g>\n",
			f1(x), f1(padT), f1(x), f1(padT+ph), l.Color, f1(x+4), f1(padT+12+float64(i)*13), l.Color, html.EscapeString(l.Label))
	}

	// Series.
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		var d strings.Builder
		var marks strings.Builder
		for _, p := range s.Points {
			if !c.visible(p) || !inX(p.X) || !inY(p.Y) {
				continue
			}
			x, y := f1(px(p.X)), f1(py(p.Y))
			if d.Len() == 0 {
				d.WriteString("M" + x + " " + y)
			} else {
				d.WriteString("L" + x + " " + y)
			}
			if !s.NoMarks {
				tip := s.Name + ": " + c.X.label(p.X) + ", " + c.Y.label(p.Y)
				if s.Tip != nil {
					tip = s.Tip(p)
				}
				fmt.Fprintf(&marks, "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"><title>%s</title></circle>", x, y, color, html.EscapeString(tip))
			}
		}
		fmt.Fprintf(b, "<g class=\"series\" data-series=\"%s\">", html.EscapeString(s.Name))
		if !s.NoLine && d.Len() > 0 {
			dash := ""
			if s.Dash {
				dash = " stroke-dasharray=\"5 4\""
			}
			fmt.Fprintf(b, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>", d.String(), color, dash)
		}
		b.WriteString(marks.String())
		b.WriteString("</g>\n")
	}

	// Legend, above the plot, wrapping onto a second row when long.
	b.WriteString("<g class=\"legend\" font-size=\"11\" fill=\"currentColor\">")
	lx, ly := padL, 14.0
	for i, s := range c.Series {
		if s.Name == "" {
			continue
		}
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		w := 26 + 6.2*float64(len([]rune(s.Name)))
		if lx+w > svgW-padR {
			lx, ly = padL, ly+16
		}
		dash := ""
		if s.Dash {
			dash = " stroke-dasharray=\"5 4\""
		}
		fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%s\" y=\"%s\">%s</text>",
			f1(lx), f1(ly-4), f1(lx+16), f1(ly-4), color, dash, f1(lx+20), f1(ly), html.EscapeString(s.Name))
		lx += w + 10
	}
	b.WriteString("</g>\n</svg>\n</figure>\n")
}
