package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsShowNoOrganization registers per-organization series as the scheduler does
// (an org label) and one that carries an organization's id under another label, and
// checks that the API's /metrics, which anyone reaching the address may read, shows
// neither, while the private handler (http.metricsAddr) shows both.
func TestMetricsShowNoOrganization(t *testing.T) {
	sealed := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_last_sealed", Help: "h"}, []string{"org"})
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_other", Help: "h"}, []string{"tenant"})
	plain := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_plain", Help: "h"})
	var f *fixture
	f = newFixture(t, func(s *httpapi.Server) {
		s.Registerer.MustRegister(sealed, other, plain)
	})
	sealed.WithLabelValues(acme).Set(1)
	sealed.WithLabelValues(globex).Set(2)
	other.WithLabelValues(umbrella).Inc()
	plain.Inc()

	resp, body := get(t, f.url+"/metrics", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "test_plain 1") {
		t.Fatalf("/metrics: %d, want the series of no organization:\n%s", resp.StatusCode, body)
	}
	for _, id := range []string{acme, globex, umbrella, "test_last_sealed", "test_other"} {
		if strings.Contains(string(body), id) {
			t.Errorf("unauthenticated /metrics shows %s:\n%s", id, body)
		}
	}

	private := httptest.NewServer(httpapi.MetricsHandler(f.reg))
	defer private.Close()
	resp, body = get(t, private.URL+"/metrics", "")
	for _, want := range []string{`test_last_sealed{org="` + acme + `"} 1`, `test_other{tenant="` + umbrella + `"} 1`, "test_plain 1"} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("private /metrics: %d, lacks %s", resp.StatusCode, want)
		}
	}
	reliability.Record(t, "security", "unauthenticated GET /metrics on the API's address", reliability.Refused,
		"no series that names an organization; those are served only on http.metricsAddr")
}
