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
	svgW, svgH    = 720.0, 380.0
	minPadR, padB = 18.0, 48.0
	minPadL       = 62.0
	tickFont      = 11.0
	labelRowStep  = 13.0
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
	// Bands shade spans of the X axis behind the series (a run's steps,
	// by phase); a band with a Label names the span at the top.
	Bands []band
}

// band is a shaded span of the X axis.
type band struct {
	From, To float64
	Label    string
	Color    string
	Tip      string
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

// textWidth estimates the width of s set in the report's sans-serif font
// at size px: generous, so that labels placed apart do not touch in a
// real browser (the browser test measures them).
func textWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		switch {
		case r == 'm' || r == 'w' || r == 'M' || r == 'W' || r == '%':
			w += 0.9
		case r == 'i' || r == 'l' || r == 'j' || r == '.' || r == ',' || r == ' ' || r == ':' || r == '·' || r == '(' || r == ')' || r == 't' || r == 'f' || r == 'r' || r == '1':
			w += 0.4
		case r >= 'A' && r <= 'Z':
			w += 0.72
		default:
			w += 0.6
		}
	}
	return w * size
}

// box is a label's extent in the SVG's user units.
type box struct{ x0, y0, x1, y1 float64 }

func (a box) overlaps(b box) bool {
	return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

// labels places text labels inside the plot so that none overlaps another:
// each label takes the first of its candidate positions that is free.
type labels struct {
	placed []box
	limit  box // the plot area; a candidate outside it is not free
}

// place picks among candidate boxes (x0 is the text's left edge, y1 its
// baseline) and returns the one taken.
func (l *labels) place(cands []box) box {
	for _, c := range cands {
		if c.x0 < l.limit.x0 || c.x1 > l.limit.x1 || c.y0 < l.limit.y0 || c.y1 > l.limit.y1 {
			continue
		}
		free := true
		for _, p := range l.placed {
			if c.overlaps(p) {
				free = false
				break
			}
		}
		if free {
			l.placed = append(l.placed, c)
			return c
		}
	}
	// Nowhere free: the last candidate, the least likely to be crowded.
	c := cands[len(cands)-1]
	l.placed = append(l.placed, c)
	return c
}

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
	inX := func(v float64) bool { return v >= c.X.Min-1e-9 && v <= c.X.Max+1e-9 && (!c.X.Log || v > 0) }
	inY := func(v float64) bool { return v >= c.Y.Min-1e-9 && v <= c.Y.Max+1e-9 && (!c.Y.Log || v > 0) }

	// The left margin holds the widest Y tick label and, left of it, the
	// rotated axis title, apart.
	var yTicks []float64
	tickW := 0.0
	for _, t := range c.Y.ticks() {
		if inY(t) {
			yTicks = append(yTicks, t)
			tickW = math.Max(tickW, textWidth(c.Y.label(t), tickFont))
		}
	}
	padL := math.Max(minPadL, math.Ceil(tickW)+34)
	// The right margin holds half the last X tick label, centred on the edge.
	padR := minPadR
	if xt := c.X.ticks(); len(xt) > 0 && inX(xt[len(xt)-1]) {
		padR = math.Max(padR, math.Ceil(textWidth(c.X.label(xt[len(xt)-1]), tickFont)/2)+4)
	}

	// The legend sits above the plot, wrapping onto more rows when long;
	// the plot starts below its last row.
	type legendItem struct {
		x, y  float64
		color string
		s     series
	}
	var legend []legendItem
	lx, ly := padL, 14.0
	for i, s := range c.Series {
		if s.Name == "" {
			continue
		}
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		w := 20 + textWidth(s.Name, tickFont)
		if lx+w > svgW-padR && lx > padL {
			lx, ly = padL, ly+16
		}
		legend = append(legend, legendItem{lx, ly, color, s})
		lx += w + 12
	}
	padT := ly + 22
	pw, ph := svgW-padL-padR, svgH-padT-padB
	px := func(v float64) float64 { return padL + c.X.frac(v)*pw }
	py := func(v float64) float64 { return padT + (1-c.Y.frac(v))*ph }

	fmt.Fprintf(b, "<figure class=\"chart\" id=\"chart-%s\">\n<figcaption>%s</figcaption>\n", c.Name, html.EscapeString(c.Title))
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" data-chart=\"%s\" data-points=\"%d\" viewBox=\"0 0 %g %g\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"%s\">\n",
		c.Name, c.points(), svgW, svgH, html.EscapeString(c.Title))
	fmt.Fprintf(b, "<title>%s</title>\n", html.EscapeString(c.Title))

	// Bands behind everything.
	for _, bd := range c.Bands {
		x0, x1 := px(math.Max(bd.From, c.X.Min)), px(math.Min(bd.To, c.X.Max))
		if x1 <= x0 {
			continue
		}
		fmt.Fprintf(b, "<rect class=\"band\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" fill-opacity=\"0.09\"><title>%s</title></rect>\n",
			f1(x0), f1(padT), f1(x1-x0), f1(ph), bd.Color, html.EscapeString(bd.Tip))
	}

	// Grid and ticks.
	fmt.Fprintf(b, "<g class=\"grid\" font-size=\"%g\" fill=\"currentColor\">\n", tickFont)
	for _, t := range yTicks {
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
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n", f1(x), f1(padT+ph+18), html.EscapeString(c.X.label(t)))
	}
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"currentColor\" stroke-opacity=\"0.4\"/>\n", f1(padL), f1(padT), f1(pw), f1(ph))
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", f1(padL+pw/2), f1(svgH-8), html.EscapeString(c.X.Label))
	// Rotated, the title's glyphs lie left of its baseline: x = 16 keeps
	// them between the edge and the tick labels.
	fmt.Fprintf(b, "<text transform=\"translate(16 %s) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", f1(padT+ph/2), html.EscapeString(c.Y.Label))
	b.WriteString("</g>\n")

	// Labels inside the plot: phases, then marks, then objectives; each
	// moves to the next free row rather than print over another.
	lab := &labels{limit: box{padL, padT, padL + pw, padT + ph}}
	const fs = 11.0
	row := func(k int) float64 { return padT + 12 + float64(k)*labelRowStep }
	for _, l := range c.HLines {
		if !inY(l.Value) {
			continue
		}
		y, w := py(l.Value), textWidth(l.Label, fs)
		fmt.Fprintf(b, "<g class=\"ref\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
			f1(padL), f1(y), f1(padL+pw), f1(y), l.Color)
		var cands []box
		for k := 0; k < 8; k++ {
			x1 := padL + pw - 4 - float64(k)*(w+10)
			cands = append(cands, box{x1 - w, y - 4 - fs, x1, y - 1}, box{x1 - w, y + 2, x1, y + 2 + fs + 1})
		}
		p := lab.place(cands)
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"%g\" fill=\"%s\">%s</text></g>\n", f1(p.x0), f1(p.y1-3), fs, l.Color, html.EscapeString(l.Label))
		// Later labels keep off the line itself.
		lab.placed = append(lab.placed, box{padL, y - 1, padL + pw, y + 1})
	}

	for _, bd := range c.Bands {
		if bd.Label == "" || !inX(bd.From) {
			continue
		}
		x, w := px(bd.From)+3, textWidth(bd.Label, fs)
		var cands []box
		for k := 0; k < 6; k++ {
			cands = append(cands, box{x, row(k) - fs, x + w, row(k) + 3})
		}
		p := lab.place(cands)
		fmt.Fprintf(b, "<text class=\"band-label\" x=\"%s\" y=\"%s\" font-size=\"%g\" fill=\"%s\">%s</text>\n", f1(p.x0), f1(p.y1-3), fs, bd.Color, html.EscapeString(bd.Label))
	}
	for _, l := range c.VLines {
		if !inX(l.Value) {
			continue
		}
		x, w := px(l.Value), textWidth(l.Label, fs)
		fmt.Fprintf(b, "<g class=\"ref\"><line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>",
			f1(x), f1(padT), f1(x), f1(padT+ph), l.Color)
		var cands []box
		for k := 0; k < 12; k++ {
			cands = append(cands, box{x + 4, row(k) - fs, x + 4 + w, row(k) + 3}, box{x - 4 - w, row(k) - fs, x - 4, row(k) + 3})
		}
		p := lab.place(cands)
		fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"%g\" fill=\"%s\">%s</text></g>\n", f1(p.x0), f1(p.y1-3), fs, l.Color, html.EscapeString(l.Label))
	}
	// Series. A NaN point breaks the line (a gap between steps).
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		var d strings.Builder
		var marks strings.Builder
		pen := false
		for _, p := range s.Points {
			if !c.visible(p) || !inX(p.X) || !inY(p.Y) {
				pen = false
				continue
			}
			x, y := f1(px(p.X)), f1(py(p.Y))
			if !pen {
				d.WriteString("M" + x + " " + y)
				pen = true
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

	fmt.Fprintf(b, "<g class=\"legend\" font-size=\"%g\" fill=\"currentColor\">", tickFont)
	for _, it := range legend {
		dash := ""
		if it.s.Dash {
			dash = " stroke-dasharray=\"5 4\""
		}
		fmt.Fprintf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%s\" y=\"%s\">%s</text>",
			f1(it.x), f1(it.y-4), f1(it.x+16), f1(it.y-4), it.color, dash, f1(it.x+20), f1(it.y), html.EscapeString(it.s.Name))
	}
	b.WriteString("</g>\n</svg>\n</figure>\n")
}
