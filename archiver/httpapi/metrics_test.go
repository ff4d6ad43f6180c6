package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// TestMetricsShowNoOrganization registers per-organization series as the scheduler does
// (an org label) and one that carries an organization's id under another label, and
// checks that the API's /metrics, which anyone reaching the address may read, shows
// neither, while the private handler (http.metricsAddr) shows both.
func TestMetricsShowNoOrganization(t *testing.T) {
	sealed := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_last_sealed", Help: "h"}, []string{"org"})
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_other", Help: "h"}, []string{"tenant"})
	// A whole-day total names no organization, but with two organizations the total minus
	// one's own count is the other's.
	plain := prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_test_events_total", Help: "h"})
	f := newFixture(t, func(s *httpapi.Server) {
		s.Registerer.MustRegister(sealed, other, plain, collectors.NewGoCollector())
	})
	sealed.WithLabelValues(acme).Set(1)
	sealed.WithLabelValues(globex).Set(2)
	other.WithLabelValues(umbrella).Inc()
	plain.Inc()

	resp, body := get(t, f.url+"/metrics", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "go_goroutines ") {
		t.Fatalf("/metrics: %d, want the Go runtime's series:\n%s", resp.StatusCode, body)
	}
	for _, id := range []string{acme, globex, umbrella, "test_last_sealed", "test_other", "chatvault_"} {
		if strings.Contains(string(body), id) {
			t.Errorf("unauthenticated /metrics shows %s:\n%s", id, body)
		}
	}

	private := httptest.NewServer(httpapi.MetricsHandler(f.reg))
	defer private.Close()
	resp, body = get(t, private.URL+"/metrics", "")
	for _, want := range []string{`test_last_sealed{org="` + acme + `"} 1`, `test_other{tenant="` + umbrella + `"} 1`, "chatvault_test_events_total 1"} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("private /metrics: %d, lacks %s", resp.StatusCode, want)
		}
	}
	reliability.Record(t, "security", "unauthenticated GET /metrics on the API's address", reliability.Refused,
		"only the Go runtime's and the process's series: no chatvault_ series (one names an organization, a day's total less one's own count is another's); those are served only on http.metricsAddr")
}

// v1Exports serves a version 1 manifest, as sealed before manifests carried only their
// organization's numbers, for every day.
type v1Exports struct {
	httpapi.Exports
	m *archiver.StoredManifest
}

func (e v1Exports) Latest(context.Context, string, archiver.Day) (*archiver.StoredManifest, error) {
	return e.m, nil
}

// TestManifestVersion1Redacted serves a version 1 manifest, which carries the whole day's
// input counts and the shared quarantine object: the organization gets it without them
// (and without the signature, which covers the stored form), and a header says so.
func TestManifestVersion1Redacted(t *testing.T) {
	b, err := os.ReadFile("../testdata/manifest-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var m archiver.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Signature = &archiver.Signature{Algorithm: "ed25519", PublicKey: "k", Value: "v"}
	f := newFixture(t, func(s *httpapi.Server) {
		s.Exports = v1Exports{Exports: s.Exports, m: &archiver.StoredManifest{Manifest: &m, Bytes: b}}
	})
	resp, body := get(t, f.url+"/v1/exports/"+sample+"/manifest", f.tokens["acme"])
	if resp.StatusCode != 200 {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"input", "quarantine", "signature"} {
		if _, ok := got[field]; ok {
			t.Errorf("the version 1 manifest served carries %q", field)
		}
	}
	if got["org"] != acme || got["counts"] == nil || got["version"] != 1.0 {
		t.Errorf("the manifest served lost its own fields: %s", body)
	}
	if h := resp.Header.Get("X-Chatvault-Manifest-Redacted"); h != "input, quarantine, signature" {
		t.Errorf("X-Chatvault-Manifest-Redacted: %q", h)
	}
	reliability.Record(t, "security", "an organization fetches a version 1 manifest holding the whole day's counts", reliability.Refused,
		"served without input, quarantine and signature, marked X-Chatvault-Manifest-Redacted")
}
