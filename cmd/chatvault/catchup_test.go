package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// catchUpLog copies the sample event log with Acme and Globex archiving from 2026-11-20,
// so that a catch-up on 2026-11-25 looks at five days of which only 2026-11-22 has a
// (closed) partition; Umbrella starts on 2026-12-01 and is not due.
func catchUpLog(t *testing.T) string {
	t.Helper()
	logDir := samplePartition(t)
	path := filepath.Join(logDir, "directory.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(`"archivalStart": "2026-01-01"`, `"archivalStart": "2026-11-20"`,
		`"archivalStart": "2026-06-01"`, `"archivalStart": "2026-11-20"`).Replace(string(b))
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return logDir
}

// setRunClock makes run's "now" the given time for the test.
func setRunClock(t *testing.T, now string) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, now)
	if err != nil {
		t.Fatal(err)
	}
	old := runClock
	runClock = func() time.Time { return at }
	t.Cleanup(func() { runClock = old })
}

// TestRunCatchUp: `run` with no date seals every closed, unsealed day through yesterday,
// reports the days without a partition as pending (not a failure), and a rerun that
// changes nothing exits 0 although the sealed day has quarantined records.
func TestRunCatchUp(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-25T00:30:00Z")
	logDir := catchUpLog(t)
	store := t.TempDir()
	args := []string{"run", "--eventlog", logDir, "--store", store, "--log-format", "json"}

	code, out, errOut := chatvault(t, args...)
	if code != exitQuarantined {
		t.Fatalf("catch-up exit %d, want %d (the sealed day has quarantined records)\n%s%s", code, exitQuarantined, out, errOut)
	}
	for _, want := range []string{
		"sealed 2026-11-22", "9 quarantined",
		"catch-up: 2 sealed (organization-days), 0 failed, 4 pending",
		"pending 2026-11-20..2026-11-21,2026-11-23..2026-11-24",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	recs := logRecords(t, errOut)
	for _, day := range []string{"2026-11-20", "2026-11-21", "2026-11-23", "2026-11-24"} {
		if findRecord(recs, "day pending", "day", day) == nil {
			t.Errorf("no line says %s is pending:\n%s", day, errOut)
		}
	}
	if strings.Contains(out+errOut, "2026-11-25") {
		t.Errorf("the catch-up looked at today:\n%s%s", out, errOut)
	}

	code, out, errOut = chatvault(t, args...)
	if code != exitOK {
		t.Fatalf("rerun exit %d, want 0: nothing new was sealed or quarantined\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "catch-up: 0 sealed (organization-days), 0 failed, 4 pending") || strings.Contains(out, "sealed 2026-11-22") {
		t.Errorf("the rerun sealed again:\n%s", out)
	}
	reliability.Record(t, "input", "`run` with no date (CronJob, cron, systemd timer) after missed days", reliability.Recovered,
		"seals every closed, unsealed day from archivalStart through yesterday (exit 3: records quarantined); days with no partition are listed as pending, not failed; a rerun seals nothing and exits 0")
}

// TestRunCatchUpQuarantineExitCode: --quarantine-exit-code 0 makes a run that quarantined
// records exit 0; the summary still counts them.
func TestRunCatchUpQuarantineExitCode(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-25T00:30:00Z")
	logDir := catchUpLog(t)
	code, out, errOut := chatvault(t, "run", "--quarantine-exit-code", "0", "--eventlog", logDir, "--store", t.TempDir(), "--log-format", "json")
	if code != exitOK || !strings.Contains(out, "9 quarantined") {
		t.Fatalf("exit %d, want 0 with the quarantine in the summary\n%s%s", code, out, errOut)
	}
	code, _, errOut = chatvault(t, "run", "--quarantine-exit-code", "1", "--eventlog", logDir, "--store", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "--quarantine-exit-code") {
		t.Errorf("--quarantine-exit-code 1: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}

// TestRunCatchUpFailedDay: a day that fails (an unreadable entry in its partition) makes
// the catch-up exit 1 and names the day; the pending days around it do not.
func TestRunCatchUpFailedDay(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-25T00:30:00Z")
	logDir := catchUpLog(t)
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0003.JSONL"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--eventlog", logDir, "--store", store, "--log-format", "json")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(out, "catch-up: 0 sealed (organization-days), 1 failed, 4 pending") || !strings.Contains(out, "failed 2026-11-22") {
		t.Errorf("summary does not name the failed day:\n%s", out)
	}
	if files := storeFiles(t, store); len(files) != 0 {
		for _, f := range files {
			if strings.Contains(f, "manifest") {
				t.Errorf("the failed day committed %s", f)
			}
		}
	}
	reliability.Record(t, "fault", "`run` with no date: one day of the catch-up fails", reliability.CleanFailure,
		"exit 1 naming the day (`failed 2026-11-22`); days with no partition are reported as pending and do not fail the run")
}

// TestRunDateYesterday: --date yesterday seals the day before today (UTC); --date today is
// refused like any day that has not ended.
func TestRunDateYesterday(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-23T00:30:00Z")
	logDir := samplePartition(t)
	store := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--date", "yesterday", "--eventlog", logDir, "--store", store, "--log-format", "json")
	if code != exitQuarantined || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("--date yesterday: exit %d, want %d sealing 2026-11-22\n%s%s", code, exitQuarantined, out, errOut)
	}
	code, out, errOut = chatvault(t, "run", "--date", "today", "--eventlog", logDir, "--store", store, "--log-format", "text") // the row quotes it: no time stamps
	if code != exitUsage || !strings.Contains(errOut, "2026-11-23") {
		t.Fatalf("--date today: exit %d, want %d naming the day\n%s%s", code, exitUsage, out, errOut)
	}
	reliability.Record(t, "input", "`run --date yesterday` / `--date today`", reliability.Refused,
		"yesterday is the UTC day before now (no shell date arithmetic needed); today is refused with exit 2 as a day not ended: "+strings.TrimSpace(errOut))
}

// TestRunRerunUnchangedExitsZero: rerunning a sealed day that had quarantined records
// changes nothing and exits 0; only the run that quarantined them exits 3.
func TestRunRerunUnchangedExitsZero(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	if code, out, errOut := chatvault(t, args...); code != exitQuarantined {
		t.Fatalf("first run exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	code, out, errOut := chatvault(t, args...)
	if code != exitOK || !strings.Contains(out, "unchanged") || !strings.Contains(out, "9 quarantined") {
		t.Fatalf("rerun exit %d, want 0 with every organization unchanged (the summary still counts the quarantine)\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "rerun of a sealed day that has quarantined records (Job retry)", reliability.Recovered,
		"exit 0: every organization is unchanged and nothing new is quarantined; exit 3 belongs to the run that quarantined them")
}

// TestRunCatchUpDayNotClosedYet: `run` is one tick, it does not wait for a partition to
// close: a run before the producer's _CLOSED (within schedule.grace) exits 0 with the day
// pending, and the next run seals it. This is why the README has the CronJob or timer run
// hourly rather than once a night.
func TestRunCatchUpDayNotClosedYet(t *testing.T) {
	cleanEnv(t)
	logDir := catchUpLog(t)
	closed := filepath.Join(logDir, "2026-11-22", "_CLOSED")
	if err := os.Remove(closed); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	args := []string{"run", "--eventlog", logDir, "--store", store, "--quarantine-exit-code", "0"}

	setRunClock(t, "2026-11-23T00:30:00Z")
	code, out, errOut := chatvault(t, args...)
	if code != exitOK || !strings.Contains(out, "catch-up: 0 sealed (organization-days), 0 failed, 3 pending") ||
		!strings.Contains(out, "pending 2026-11-20..2026-11-22") || !strings.Contains(errOut, `"msg":"day pending","day":"2026-11-22"`) {
		t.Fatalf("run at 00:30 before _CLOSED: exit %d, want 0 with the day pending\n%s%s", code, out, errOut)
	}
	// Nothing could be sealed, so the run took no lease: an hourly Job adds no object.
	if _, err := os.Stat(filepath.Join(store, "leases")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a run with every day pending wrote a lease: %v", err)
	}
	if err := os.WriteFile(closed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	setRunClock(t, "2026-11-23T00:45:00Z")
	code, out, errOut = chatvault(t, args...)
	if code != exitOK || !strings.Contains(out, "catch-up: 2 sealed (organization-days), 0 failed, 2 pending") {
		t.Fatalf("next run after _CLOSED: exit %d, want 0 with the day sealed\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "`run` with no date before the day's partition is closed (CronJob, timer)", reliability.Recovered,
		"exits 0 with the day listed as pending and writes nothing (no lease taken); the next run seals it, so the README has the Job run hourly, not once a night")
}
