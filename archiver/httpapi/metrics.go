package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// MetricsHandler serves every series of g at GET /metrics, per-organization ones
// included: it is for http.metricsAddr, an address only the operator's Prometheus
// reaches.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// publicMetrics is what the API's own /metrics serves, to whoever reaches its address
// without a token: the Go runtime's and the process's series, and no chatvault_ series.
// Those count what organizations do, and an unauthenticated endpoint cannot tell one
// caller from another: a series with an organization's id names it (DESIGN invariant 5),
// and one without still leaks, since a day's total less an organization's own count is
// the others' (with two organizations, the other's). They are served on http.metricsAddr.
type publicMetrics struct {
	g prometheus.Gatherer
}

// publicPrefixes are the metric families the API's /metrics may serve.
var publicPrefixes = []string{"go_", "process_"}

func (p publicMetrics) Gather() ([]*dto.MetricFamily, error) {
	fams, err := p.g.Gather()
	out := fams[:0]
	for _, f := range fams {
		if slices.ContainsFunc(publicPrefixes, func(pre string) bool { return strings.HasPrefix(f.GetName(), pre) }) {
			out = append(out, f)
		}
	}
	return out, err
}
