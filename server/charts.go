package server

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
)

// The SLA view's charts: SVG drawn here, with no script library. Each is
// an image with a title and a description saying what it shows (role img,
// labelled by both); the console puts a table of the same counts beside
// it. Colours come with the legend's words, and each bar's segments are
// also in the description, so nothing is told by colour alone.

// slaSegment is one kind of count in a bar: its words and colour.
type slaSegment struct {
	name, colour string
	count        func(slaCounts) int
}

var slaSegments = []slaSegment{
	{"On time", "#2e7d32", func(c slaCounts) int { return c.OnTime }},
	{"At risk", "#b26a00", func(c slaCounts) int { return c.AtRisk }},
	{"Overdue", "#c62828", func(c slaCounts) int { return c.Overdue }},
	{"Closed late", "#6a1b9a", func(c slaCounts) int { return c.Late }},
}

// Chart groupings (the by query parameter).
var chartGroupings = []string{"type", "rule", "month"}

// slaChart draws the groups as horizontal stacked bars, one per group.
// id prefixes the element ids (unique per page).
func slaChart(id, title string, groups []slaGroup) string {
	const (
		labelW = 190
		barW   = 420
		rowH   = 28
		top    = 36
		countW = 60
	)
	most := 0
	for _, g := range groups {
		most = max(most, g.Total)
	}
	var desc []string
	for _, g := range groups {
		var parts []string
		for _, s := range slaSegments {
			if n := s.count(g.slaCounts); n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(s.name)))
			}
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		desc = append(desc, g.Label+": "+strings.Join(parts, ", "))
	}
	height := top + rowH*len(groups) + 40
	width := labelW + barW + countW
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="%[1]s-title %[1]s-desc" width="%[2]d" height="%[3]d" viewBox="0 0 %[2]d %[3]d">`, id, width, height)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, id, esc(title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`, id, esc(strings.Join(desc, "; ")+"."))
	// The legend.
	x := 0
	for _, s := range slaSegments {
		fmt.Fprintf(&b, `<rect x="%d" y="6" width="14" height="14" fill="%s"/><text x="%d" y="18" font-size="13" fill="#1a1a1a">%s</text>`,
			x, s.colour, x+18, esc(s.name))
		x += 30 + 8*len(s.name)
	}
	for i, g := range groups {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" text-anchor="end" fill="#1a1a1a">%s</text>`, labelW-8, y+17, esc(g.Label))
		offset := 0.0
		for _, s := range slaSegments {
			n := s.count(g.slaCounts)
			if n == 0 || most == 0 {
				continue
			}
			w := float64(barW) * float64(n) / float64(most)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="20" fill="%s"><title>%s: %d %s</title></rect>`,
				float64(labelW)+offset, y+3, w, s.colour, esc(g.Label), n, esc(strings.ToLower(s.name)))
			offset += w
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="13" fill="#1a1a1a">%d</text>`, float64(labelW)+offset+6, y+17, g.Total)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"/>`, labelW, top, labelW, top+rowH*len(groups))
	b.WriteString(`</svg>`)
	return b.String()
}

// reportSLAChart is GET /api/v1/reports/sla.svg?by=type|rule|month&from=&to=:
// the SLA report's counts as an SVG bar chart.
func (s *Server) reportSLAChart(c *gin.Context) {
	by := c.DefaultQuery("by", "type")
	var groups []slaGroup
	rep, err := s.slaOf(c)
	if err == nil {
		switch by {
		case "type":
			groups = rep.ByType
		case "rule":
			groups = rep.ByRule
		case "month":
			groups = rep.Trend
		default:
			err = dsar.Invalid(map[string]string{"by": "must be one of " + strings.Join(chartGroupings, ", ")})
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	titles := map[string]string{"type": "Requests by type against their deadlines", "rule": "Requests by jurisdiction rule against their deadlines",
		"month": "Requests by month received against their deadlines"}
	title := fmt.Sprintf("%s, received %s to %s", titles[by], rep.From, rep.To)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/svg+xml; charset=utf-8", []byte(slaChart("sla-"+by, title, groups)))
}
