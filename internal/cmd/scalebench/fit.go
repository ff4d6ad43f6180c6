package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// point is one measurement: a size (organizations, days, org-days) and its cost.
type point struct {
	x, y float64
}

// fit returns the least-squares line y = intercept + slope·x through pts and the exponent
// k of y ∝ x^k between the smallest and the largest size. The exponent is what tells a
// growth law apart from a fixed cost: 1 is linear, 0 flat, 2 quadratic. ok is false when
// there are fewer than two distinct sizes.
func fit(pts []point) (slope, intercept, exponent float64, ok bool) {
	if len(pts) < 2 {
		return 0, 0, 0, false
	}
	var sx, sy, sxx, sxy float64
	lo, hi := pts[0], pts[0]
	for _, p := range pts {
		sx += p.x
		sy += p.y
		sxx += p.x * p.x
		sxy += p.x * p.y
		if p.x < lo.x {
			lo = p
		}
		if p.x > hi.x {
			hi = p
		}
	}
	n := float64(len(pts))
	den := n*sxx - sx*sx
	if den == 0 || lo.x == hi.x {
		return 0, 0, 0, false
	}
	slope = (n*sxy - sx*sy) / den
	intercept = (sy - slope*sx) / n
	exponent = math.NaN()
	if lo.x > 0 && hi.x > 0 && lo.y > 0 && hi.y > 0 {
		exponent = math.Log(hi.y/lo.y) / math.Log(hi.x/lo.x)
	}
	return slope, intercept, exponent, true
}

// law describes how a duration in seconds grows with a size: "+2.1 ms per org (fixed
// 150 ms), exponent 0.98". unit names the size ("org", "sealed day").
func law(pts []point, unit string) string {
	slope, intercept, exp, ok := fit(pts)
	if !ok {
		return "one size only: no law"
	}
	s := fmt.Sprintf("%s per %s (fixed %s)", signedSeconds(slope), unit, seconds(intercept))
	return s + exponentNote(exp)
}

// countLaw describes how a count (requests, objects) grows with a size.
func countLaw(pts []point, unit string) string {
	slope, intercept, exp, ok := fit(pts)
	if !ok {
		return "one size only: no law"
	}
	return fmt.Sprintf("%+.3g per %s (fixed %.3g)%s", slope, unit, intercept, exponentNote(exp))
}

func exponentNote(exp float64) string {
	if math.IsNaN(exp) {
		return ""
	}
	return fmt.Sprintf(", exponent %.2f", exp)
}

// seconds formats a duration given in seconds with a unit a reader compares at a glance.
func seconds(s float64) string {
	a := math.Abs(s)
	switch {
	case a >= 10:
		return fmt.Sprintf("%.1f s", s)
	case a >= 1:
		return fmt.Sprintf("%.2f s", s)
	case a >= 0.001:
		return fmt.Sprintf("%.3g ms", s*1000)
	case a == 0:
		return "0 s"
	default:
		return fmt.Sprintf("%.3g µs", s*1e6)
	}
}

func signedSeconds(s float64) string {
	if s < 0 {
		return "-" + seconds(-s)
	}
	return "+" + seconds(s)
}

func dur(d time.Duration) string { return seconds(d.Seconds()) }

// row is one line of the table.
type row struct {
	what, value, law string
}

// table renders rows as a Markdown table with the columns. A "|" inside a cell is
// escaped, so a command line in a cell cannot break the table.
func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| what | value | growth law |\n| --- | --- | --- |\n")
	esc := strings.NewReplacer("|", `\|`, "\n", " ")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", esc.Replace(r.what), esc.Replace(r.value), esc.Replace(r.law))
	}
	return b.String()
}

// series is one row's measurements at each size: wall time, CPU time and S3 requests.
type series struct {
	wall, cpu, req []point
	val            []string
	s3             bool
}

func (s *series) add(x float64, r result, value string) {
	s.wall = append(s.wall, point{x, r.wall.Seconds()})
	s.cpu = append(s.cpu, point{x, r.cpu.Seconds()})
	if r.requests != nil {
		s.s3 = true
		s.req = append(s.req, point{x, float64(r.totalRequests())})
	}
	s.val = append(s.val, value)
}

func (s series) value() string { return strings.Join(s.val, "; ") }

// law gives the growth law of the wall time and, as the steadier figure on a shared
// machine, of the CPU time; on S3, of the requests first, which no neighbour's load moves
// (MinIO's own CPU is not the child's, so the CPU law would mislead there).
func (s series) law(unit string) string {
	if s.s3 {
		return countLaw(s.req, unit) + " requests; wall " + law(s.wall, unit)
	}
	return "wall " + law(s.wall, unit) + "; CPU " + law(s.cpu, unit)
}
