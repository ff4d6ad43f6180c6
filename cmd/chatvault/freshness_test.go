package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// scrapeMetrics returns the exposition text of addr's /metrics.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// sample returns the value of the series written exactly as series (name{labels}) in
// the exposition text, or "" when it is absent.
func sample(text, series string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return strconv.FormatFloat(f, 'f', -1, 64)
			}
			return v
		}
	}
	return ""
}

func dayStart(date string) string {
	d, _ := time.Parse("2006-01-02", date)
	return strconv.FormatInt(d.Unix(), 10)
}

// TestServeFreshnessFromLedger: in CronJob mode (no scheduler in serve), the days sealed
// by `chatvault run` before serve started are in its metrics at start, and a day sealed by
// another run while it serves shows at its next read of the ledger: the alerts on these
// gauges work whichever process sealed, and a restart re-reads them instead of paging.
func TestServeFreshnessFromLedger(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t) // 2026-11-22 and 2026-11-23
	// Acme and Globex archive from the 22nd: the days before are not due.
	dirPath := filepath.Join(eventlog, "directory.json")
	b, err := os.ReadFile(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.NewReplacer(`"2026-01-01"`, `"2026-11-22"`, `"2026-06-01"`, `"2026-11-22"`).Replace(string(b)))
	if err := os.WriteFile(dirPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json"}
	run := func(date string) {
		t.Helper()
		if code, _, errOut := chatvault(t, append([]string{"run", "--date", date}, common...)...); code != exitQuarantined {
			t.Fatalf("run --date %s: exit %d\n%s", date, code, errOut)
		}
	}
	run("2026-11-22")
	if code, _, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read"}, common...)...); code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}

	refresh, refreshed := make(chan time.Time), make(chan error)
	metricsAt := make(chan string, 1)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	serveHooks.metricsListening = func(a string) { metricsAt <- a }
	serveHooks.ledgerRefresh = refresh
	serveHooks.ledgerRefreshed = func(err error) { refreshed <- err }
	t.Cleanup(func() {
		serveHooks.clock, serveHooks.metricsListening = nil, nil
		serveHooks.ledgerRefresh, serveHooks.ledgerRefreshed = nil, nil
	})
	startServe(t, common...)
	metrics := <-metricsAt
	if err := <-refreshed; err != nil {
		t.Fatalf("first read of the ledger: %v", err)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		text := scrapeMetrics(t, metrics)
		for series, v := range want {
			if got := sample(text, series); got != v {
				t.Errorf("%s: %s = %q, want %s", when, series, got, v)
			}
		}
	}
	org := func(name, id string) string { return name + `{org="` + id + `"}` }
	check("at start, after run sealed the 22nd", map[string]string{
		org("chatvault_last_sealed_day_timestamp_seconds", acme):     dayStart("2026-11-22"),
		org("chatvault_last_sealed_day_timestamp_seconds", globexID): dayStart("2026-11-22"),
		org("chatvault_first_unsealed_day_timestamp_seconds", acme):  dayStart("2026-11-23"),
		org("chatvault_days_pending", acme):                          "1",
		org("chatvault_days_failed", acme):                           "0",
		"chatvault_quarantined_days":                                 "1",
		"chatvault_ledger_refresh_failures_total":                    "0",
	})

	// Another process seals the 23rd; serve's next read shows it.
	run("2026-11-23")
	refresh <- time.Time{}
	if err := <-refreshed; err != nil {
		t.Fatalf("read of the ledger: %v", err)
	}
	check("after run sealed the 23rd from outside", map[string]string{
		org("chatvault_last_sealed_day_timestamp_seconds", acme):     dayStart("2026-11-23"),
		org("chatvault_last_sealed_day_timestamp_seconds", globexID): dayStart("2026-11-23"),
		org("chatvault_first_unsealed_day_timestamp_seconds", acme):  dayStart("2026-11-24"),
		org("chatvault_days_pending", acme):                          "0",
		"chatvault_quarantined_days":                                 "2",
	})
	reliability.Record(t, "operations", "days sealed by another process (a CronJob's run) before and while serve runs", reliability.Kept,
		"serve's freshness gauges (last sealed day, first unsealed day, days pending, failed, quarantined) come from the store's ledger: read at start and at each refresh, not from its own scheduler")
}

// TestServeCountersFromZero: right after start, before any seal, every counter the alert
// rules take increase() of is there at zero, per archiving organization too: a counter
// that first appears at 1 shows no increase, and the first failure after a restart would
// not alert.
func TestServeCountersFromZero(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
	common := []string{"--eventlog", copyEventLog(t), "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read"}, common...)...); code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	// The scheduler waits on the fake clock, which never moves: nothing is sealed.
	metricsAt := make(chan string, 1)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	serveHooks.metricsListening = func(a string) { metricsAt <- a }
	serveHooks.ledgerRefresh = make(chan time.Time)
	t.Cleanup(func() { serveHooks.clock, serveHooks.metricsListening, serveHooks.ledgerRefresh = nil, nil, nil })
	startServe(t, common...)
	text := scrapeMetrics(t, <-metricsAt)
	for _, series := range []string{
		`chatvault_seal_failures_total{org="` + acme + `"}`,
		`chatvault_seal_failures_total{org="` + globexID + `"}`,
		`chatvault_seal_failures_total{org="` + umbrellaID + `"}`,
		`chatvault_seal_failures_total{org="all"}`,
		`chatvault_scheduler_runs_total{result="failed"}`,
		`chatvault_http_integrity_failures_total`,
		`chatvault_audit_flush_failures_total`,
		`chatvault_ledger_refresh_failures_total`,
		`chatvault_http_requests_total{route="/messageevent.export",status="500"}`,
	} {
		if got := sample(text, series); got != "0" {
			t.Errorf("%s = %q right after start, want 0", series, got)
		}
	}
	reliability.Record(t, "operations", "the first failure after a restart", reliability.Kept,
		"every counter an alert takes increase() of (seal failures per archiving organization, 5xx per route, audit, integrity, ledger reads) is published at 0 from start, so its first increment is an increase")
}
