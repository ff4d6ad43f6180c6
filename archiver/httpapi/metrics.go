package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

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

// OrgLabel is the label that per-organization series carry (by convention: every series
// whose label names an organization uses it).
const OrgLabel = "org"

// publicMetrics is what the API's own /metrics serves, to whoever reaches its address
// without a token: every series except those that name an organization, by the org label
// or by any label whose value is the id of an organization of the directory. An
// organization's id, and that it archives, is its own business (DESIGN invariant 5), and
// an unauthenticated endpoint cannot tell one caller from another.
type publicMetrics struct {
	s *Server
	g prometheus.Gatherer
}

// errMetricsUnavailable is what a scrape sees when the directory cannot be read: without
// it, no series could be shown to name no organization, so none is.
var errMetricsUnavailable = errors.New("metrics unavailable: the directory cannot be read")

func (p publicMetrics) Gather() ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir, err := p.s.Directory(ctx)
	if err != nil {
		p.s.log().Error("metrics: directory", "err", err)
		return nil, errMetricsUnavailable
	}
	orgs := make(map[string]bool, len(dir.Organizations))
	for _, o := range dir.Organizations {
		orgs[o.ID] = true
	}
	fams, err := p.g.Gather()
	if err != nil {
		return nil, err
	}
	out := fams[:0]
	for _, f := range fams {
		ms := f.Metric[:0]
		for _, m := range f.Metric {
			if !namesOrg(m, orgs) {
				ms = append(ms, m)
			}
		}
		f.Metric = ms
		if len(ms) > 0 {
			out = append(out, f)
		}
	}
	return out, nil
}

func namesOrg(m *dto.Metric, orgs map[string]bool) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == OrgLabel || orgs[l.GetValue()] {
			return true
		}
	}
	return false
}
