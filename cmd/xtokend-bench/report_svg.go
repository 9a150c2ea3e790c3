package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The report's plots are plain SVG written here, so that the tool needs no plotting library:
// a figure is a column of panels, each with its own axes and a line per server.

// series is one server's line in a panel.
type series struct {
	name   string
	color  string
	dashed bool
	points [][2]float64
}

// panel is one chart of a figure.
type panel struct {
	title          string
	xLabel, yLabel string
	logX, logY     bool
	series         []*series
}

// add appends a point to the series named name, creating it (colored for server) when new.
func (p *panel) add(name, server string, x, y float64) {
	i := slices.IndexFunc(p.series, func(s *series) bool { return s.name == name })
	if i < 0 {
		color, dashed := serverStyle(server)
		p.series = append(p.series, &series{name: name, color: color, dashed: dashed})
		i = len(p.series) - 1
	}
	p.series[i].points = append(p.series[i].points, [2]float64{x, y})
}

// serverStyle gives each server the same color in every plot.
func serverStyle(server string) (color string, dashed bool) {
	switch server {
	case "xtokend":
		return "#1f77b4", false
	case sasl2Server:
		return "#17becf", true
	case "prosody":
		return "#d62728", false
	case "ejabberd":
		return "#2ca02c", false
	case floorServer:
		return "#7f7f7f", true
	}
	return "#7f7f7f", false
}

// plotFigure draws the panels one under the other, each 720 × 300 pixels.
func plotFigure(title string, panels []panel) string {
	const w, ph, left, right, top, bottom, head = 720, 300, 70, 190, 30, 50, 26
	h := head + len(panels)*ph
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14">%s</text>`+"\n", left, xmlText(title))
	for i := range panels {
		drawPanel(&b, &panels[i], head+i*ph, w, ph, left, right, top, bottom)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// axis maps values to pixels on a linear or log10 scale from lo to hi.
type axis struct {
	lo, hi float64
	log    bool
}

func (a axis) frac(v float64) float64 {
	if a.log {
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return (v - a.lo) / (a.hi - a.lo)
}

// ticks are the values to label: powers of ten (and their 2x, 5x) on a log scale, sixths of
// a round maximum on a linear one.
func (a axis) ticks() []float64 {
	var out []float64
	if a.log {
		for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				if v := m * math.Pow(10, e); v >= a.lo*0.999 && v <= a.hi*1.001 {
					out = append(out, v)
				}
			}
		}
		return out
	}
	for i := 0; i <= 5; i++ {
		out = append(out, a.lo+(a.hi-a.lo)*float64(i)/5)
	}
	return out
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func drawPanel(b *strings.Builder, p *panel, y0, w, ph, left, right, top, bottom int) {
	pw, ih := float64(w-left-right), float64(ph-top-bottom)
	var xs, ys []float64
	for _, s := range p.series {
		slices.SortFunc(s.points, func(a, b [2]float64) int { return int(math.Copysign(1, a[0]-b[0])) })
		for _, pt := range s.points {
			xs = append(xs, pt[0])
			ys = append(ys, pt[1])
		}
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", left, y0+top-10, xmlText(p.title))
	if len(xs) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d">(not measured)</text>`+"\n", left, y0+top+20)
		return
	}
	xa := axis{lo: slices.Min(xs), hi: slices.Max(xs), log: p.logX}
	if !p.logX {
		xa.lo, xa.hi = 0, niceMax(xa.hi)
	}
	if xa.hi <= xa.lo {
		xa.hi = xa.lo*2 + 1
	}
	ya := axis{lo: 0, hi: niceMax(slices.Max(ys)), log: p.logY}
	if p.logY {
		ya.lo = math.Pow(10, math.Floor(math.Log10(math.Max(slices.Min(ys), 1e-3))))
		ya.hi = math.Pow(10, math.Ceil(math.Log10(slices.Max(ys))))
		if ya.hi <= ya.lo {
			ya.hi = ya.lo * 10
		}
	}
	x := func(v float64) float64 { return float64(left) + pw*xa.frac(v) }
	y := func(v float64) float64 { return float64(y0+top) + ih*(1-ya.frac(v)) }
	for _, v := range ya.ticks() {
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, float64(left)+pw, y(v), y(v), left-6, y(v)+4, tickLabel(v))
	}
	// A log x axis is labeled at the points measured (concurrencies), a linear one in fifths.
	xt := xa.ticks()
	if p.logX {
		xt = slices.Compact(slices.Sorted(slices.Values(xs)))
	}
	for _, v := range xt {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), y0+ph-bottom+16, tickLabel(v))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+pw/2, y0+ph-bottom+34, xmlText(p.xLabel))
	fmt.Fprintf(b, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`+"\n",
		float64(y0+top)+ih/2, float64(y0+top)+ih/2, xmlText(p.yLabel))
	for i, s := range p.series {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for _, pt := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt[0]), y(pt[1])))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for _, pt := range s.points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(pt[0]), y(pt[1]), s.color)
		}
		ly := y0 + top + 10 + 20*i
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d">%s</text>`+"\n",
			w-right+10, w-right+30, ly, ly, s.color, dash, w-right+36, ly+4, xmlText(s.name))
	}
}

func tickLabel(v float64) string {
	switch {
	case v >= 10000 && math.Mod(v, 1000) == 0:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1 || v == 0:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}

func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// loadVariants are the connections the login and idle plots have a panel for.
var loadVariants = []variant{{}, {tls: true}, {ws: true}}

// seriesName is how a plot's legend names a server's line.
func seriesName(server string) string {
	switch server {
	case sasl2Server:
		return "xtokend (SASL2+Bind2)"
	case floorServer:
		return "floor (canned answers)"
	}
	return server
}

// plotLogins draws logins/s against concurrency (log scale), a panel per connection kind,
// a line per server (the means, when points were run more than once).
func plotLogins(rs []result) string {
	var panels []panel
	for _, v := range loadVariants {
		p := panel{title: "Logins, " + v.String(), xLabel: "concurrent logins", yLabel: "logins/s", logX: true}
		for _, server := range serversOf(rs, "logins") {
			for _, l := range levelsOf(rs, "logins", v) {
				if r := find(rs, server, "logins", v, l); r != nil && r.Ops > 0 {
					p.add(seriesName(server), server, float64(l), r.Rate)
				}
			}
		}
		panels = append(panels, p)
	}
	return plotFigure("Logins per second against concurrency (loopback, 2 shared cores)", panels)
}

// plotRSS draws each server's RSS against the idle sessions it holds (the fresh server at 0),
// a panel per connection kind, and one for stream management's resumable sessions.
func plotRSS(rs []result) string {
	var panels []panel
	kinds := []struct {
		mode string
		v    variant
	}{{"idle", variant{}}, {"idle", variant{tls: true}}, {"idle", variant{ws: true}}, {"idle-sm", variant{}}}
	for _, k := range kinds {
		if k.mode == "idle-sm" && len(levelsOf(rs, k.mode, k.v)) == 0 {
			continue
		}
		title := "Idle sessions, " + k.v.String()
		if k.mode == "idle-sm" {
			title += ", stream management (resumable)"
		}
		p := panel{title: title, xLabel: "idle sessions held", yLabel: "server RSS (MB)"}
		for _, server := range serversOf(rs, k.mode) {
			first := true
			for _, l := range levelsOf(rs, k.mode, k.v) {
				r := find(rs, server, k.mode, k.v, l)
				if r == nil || r.Sessions == 0 {
					continue
				}
				if first && r.BaseRSSKB > 0 {
					p.add(server, server, 0, float64(r.BaseRSSKB)/1024)
				}
				first = false
				p.add(server, server, float64(r.Sessions), float64(r.RSSKB)/1024)
			}
		}
		panels = append(panels, p)
	}
	return plotFigure("Server memory (RSS) against idle sessions held", panels)
}

// serversOf lists the servers with results of mode: the subject first, then in the order
// they appear.
func serversOf(rs []result, mode string) []string {
	var out []string
	for i := range rs {
		if rs[i].Mode == mode && !slices.Contains(out, rs[i].Server) {
			out = append(out, rs[i].Server)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return serverRank(a) - serverRank(b) })
	return out
}

func serverRank(s string) int {
	switch s {
	case "xtokend":
		return 0
	case sasl2Server:
		return 1
	}
	return 2
}
