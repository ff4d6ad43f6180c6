package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAlertRuleSeriesExistAtStart: an alert rule over a series that does not exist
// compares with nothing and never fires. ChatvaultVerifyStalled and ChatvaultLedgerUnread
// read series that appeared only once a verification slice, or a read of the ledger, had
// succeeded, so neither fired on the failure it names when it came first. serve is started
// as chatvault.service runs it (scheduler on, continuous verification on,
// http.metricsAddr), and every series deploy/prometheus/chatvault-alerts.yaml names must be
// on http.metricsAddr once it has started: a rule renamed on one side only fails here.
func TestAlertRuleSeriesExistAtStart(t *testing.T) {
	b, err := os.ReadFile("../../deploy/prometheus/chatvault-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	series := map[string][]string{} // series → the alerts that read it
	name := regexp.MustCompile(`\b(chatvault_[a-z0-9_]+|process_[a-z0-9_]+)\b`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range name.FindAllString(r.Expr, -1) {
				if !slices.Contains(series[m], r.Alert) {
					series[m] = append(series[m], r.Alert)
				}
			}
		}
	}
	if len(series) < 10 {
		t.Fatalf("found %d series in the rules: the file's shape changed", len(series))
	}

	cleanEnv(t)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json", "--log-level", "error"}
	ticks := make(chan scheduler.Report, 1)
	metricsAt := make(chan string, 1)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	serveHooks.onTick = func(r scheduler.Report) { ticks <- r }
	serveHooks.metricsListening = func(a string) { metricsAt <- a }
	t.Cleanup(func() { serveHooks.clock, serveHooks.onTick, serveHooks.metricsListening = nil, nil, nil })
	startServe(t, common...)
	<-ticks // the start-up tick (and the freshness read after it) are done
	resp, err := http.Get("http://" + <-metricsAt + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposed := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		exposed[strings.FieldsFunc(l, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}
	for s, alerts := range series {
		if !exposed[s] {
			t.Errorf("%s, read by %s, is not on http.metricsAddr after start: the rule cannot fire", s, strings.Join(alerts, ", "))
		}
	}
	reliability.Record(t, "operations", "every series the alert rules read, on a serve just started", reliability.Kept,
		"TestAlertRuleSeriesExistAtStart: each one chatvault-alerts.yaml names is on http.metricsAddr once serve has started (scheduler and continuous verification on); a rule over a missing series never fires")
}
