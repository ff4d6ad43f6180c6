package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/scheduler"

	"github.com/chatvault/chatvault/internal/reliability"
)

// breakGzip truncates the sample day's gzip file, so that its seal fails as a whole
// (before any organization commits), and returns what puts it back.
func breakGzip(t *testing.T, logDir string) (restore func()) {
	t.Helper()
	path := filepath.Join(logDir, "2026-11-22", "part-0002.jsonl.gz")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:40], 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dayLine returns status's line for day ("" when none).
func dayLine(out, day string) string {
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, day) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// testDayFailureShown runs `run --date` on a day whose gzip file is cut short (the seal
// fails as a whole), then checks that status shows the day failed with the reason for
// every organization the seal would have committed, and that a rerun once the file is
// back shows it sealed. It returns the common flags, for more checks.
func testDayFailureShown(t *testing.T, logDir string, common []string) {
	t.Helper()
	restore := breakGzip(t, logDir)
	run := append([]string{"run", "--date", "2026-11-22"}, common...)
	if code, out, errOut := chatvault(t, run...); code != exitFailure {
		t.Fatalf("run on a broken gzip: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	status := func(org string) string {
		t.Helper()
		code, out, errOut := chatvault(t, append([]string{"status", "--org", org, "--from", "2026-11-22", "--to", "2026-11-22"}, common...)...)
		if code != exitOK {
			t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
		}
		return dayLine(out, "2026-11-22")
	}
	for _, org := range []string{acme, globexID} {
		l := status(org)
		if f := strings.Fields(l); len(f) < 2 || f[1] != "failed" || !strings.Contains(l, "part-0002.jsonl.gz") {
			t.Errorf("status of %s after the day's seal failed as a whole: %q, want failed naming part-0002.jsonl.gz", org, l)
		}
	}
	restore()
	if code, out, errOut := chatvault(t, run...); code != exitQuarantined {
		t.Fatalf("rerun once the file is back: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	for _, org := range []string{acme, globexID} {
		if l := status(org); !strings.HasPrefix(strings.Join(strings.Fields(l), " "), "2026-11-22 sealed") || strings.Contains(l, "fail") {
			t.Errorf("status of %s after a rerun sealed the day: %q, want sealed, no failure", org, l)
		}
	}
}

// TestRunDateDayFailureShownFailed: a day whose seal failed as a whole in `run --date` (a
// cut-short gzip file: nothing is committed for any organization) exited 1, but status, the
// API's listing and the days_failed gauge showed it pending, like a day no run had tried:
// only one organization's failed commit, or the scheduler's catch-up, left a failure record.
// It now shows failed with the reason (status; the API gives the state only), until a rerun
// seals it.
func TestRunDateDayFailureShownFailed(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-23T03:00:00Z")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	logDir := samplePartition(t)
	common := []string{"--eventlog", logDir, "--store", t.TempDir(), "--log-format", "text"}
	restore := breakGzip(t, logDir)
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitFailure {
		t.Fatalf("run on a broken gzip: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	refresh, refreshed := make(chan time.Time), make(chan error, 1)
	metricsAt := make(chan string, 1)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	serveHooks.metricsListening = func(a string) { metricsAt <- a }
	serveHooks.ledgerRefresh = refresh
	serveHooks.ledgerRefreshed = func(err error) { refreshed <- err }
	t.Cleanup(func() {
		serveHooks.clock, serveHooks.metricsListening = nil, nil
		serveHooks.ledgerRefresh, serveHooks.ledgerRefreshed = nil, nil
	})
	srv := startServe(t, common...)
	metrics := <-metricsAt
	if err := <-refreshed; err != nil {
		t.Fatalf("first read of the ledger: %v", err)
	}
	if got := sample(scrapeMetrics(t, metrics), `chatvault_days_failed{org="`+acme+`"}`); got != "1" {
		t.Errorf("chatvault_days_failed of %s = %q, want 1", acme, got)
	}
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/v1/exports?from=2026-11-22&to=2026-11-22", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Days []struct {
			Date, State string
		}
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("listing: %d %s (%v)", resp.StatusCode, body, err)
	}
	if len(list.Days) != 1 || list.Days[0].State != "failed" {
		t.Errorf("listing after the day's seal failed as a whole: %s, want the day failed", body)
	}
	// The reason is the operator's: it may name the event log's files and the store.
	for _, f := range []string{"part-0002", "unexpected EOF", globexID} {
		if strings.Contains(string(body), f) {
			t.Errorf("the organization's listing carries %q: %s", f, body)
		}
	}
	srv.stop()
	restore()
	testDayFailureShown(t, logDir, common)
	reliability.Record(t, "input", "`run --date` on a day whose seal fails as a whole (a gzip file cut short, before any organization commits)", reliability.CleanFailure,
		"exit 1; every organization the seal would commit shows the day failed (status with the reason; the API's listing and chatvault_days_failed the state only) until a rerun seals it, then sealed; before, pending, as if no run had tried")
}

// TestRunDateDayFailureShownFailedS3 is TestRunDateDayFailureShownFailed's status with the
// store on S3.
func TestRunDateDayFailureShownFailedS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	setRunClock(t, "2026-11-23T03:00:00Z")
	logDir := samplePartition(t)
	archive := srv.Bucket(t, true)
	testDayFailureShown(t, logDir, []string{"--eventlog", logDir, "--store", "s3://" + archive + "/chatvault", "--log-format", "text"})
	reliability.Record(t, "input", "`run --date` on a day whose seal fails as a whole, the store on S3", reliability.CleanFailure,
		"exit 1; status shows the day failed with the reason for every organization the seal would commit, until a rerun seals it")
}
