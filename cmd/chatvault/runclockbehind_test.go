package main

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCatchUpOnAHostWhoseClockIsBehind: `run` with no date (a CronJob, a systemd timer)
// on a host whose clock reads years before the event log's days (an RTC reset, a VM
// restored from an old snapshot, a node without NTP): before, whether the store was empty
// or already held the days, it planned nothing, "catch-up: 0 sealed, 0 failed, 0 pending",
// and exited 0 every time, archiving nothing without a word to a host without serve's
// metrics. It now exits 1 naming this host's clock and the event log's newest partition,
// a day that has not begun on that clock, and writes nothing; with the clock right it
// seals, and a host a few hours behind (the partition of tomorrow already there) still
// runs.
func TestCatchUpOnAHostWhoseClockIsBehind(t *testing.T) {
	cleanEnv(t)
	logDir := catchUpLog(t) // 2026-11-22, archiving from 2026-11-20
	for _, c := range []struct{ name, now string }{
		{"before every archivalStart, store empty", "2020-11-23T03:00:00Z"},
		{"three days behind the partition", "2026-11-19T03:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := t.TempDir()
			setRunClock(t, c.now)
			code, out, errOut := chatvault(t, "run", "--eventlog", logDir, "--store", store, "--log-format", "text")
			if code != exitFailure || !strings.Contains(errOut, "2026-11-22") || !strings.Contains(errOut, "this host's clock") || !strings.Contains(errOut, c.now) {
				t.Fatalf("catch-up with the clock at %s: exit %d, want 1 naming the clock and the partition of 2026-11-22\n%s%s", c.now, code, out, errOut)
			}
			if files := storeFiles(t, store); len(files) > 0 {
				t.Fatalf("the refused catch-up wrote %v", files)
			}
		})
	}
	store := t.TempDir()
	// Hours behind: the day of the partition has begun on the host's clock... not ended:
	// nothing is due, and that is no clock problem.
	setRunClock(t, "2026-11-22T20:00:00Z")
	if code, out, errOut := chatvault(t, "run", "--eventlog", logDir, "--store", store, "--log-format", "text"); code != exitOK {
		t.Fatalf("catch-up on the partition's own day: exit %d, want 0\n%s%s", code, out, errOut)
	}
	setRunClock(t, "2026-11-23T03:00:00Z")
	mustRun(t, sealed, "run", "--eventlog", logDir, "--store", store, "--log-format", "text")
	setRunClock(t, "2020-11-23T03:00:00Z")
	if code, out, errOut := chatvault(t, "run", "--eventlog", logDir, "--store", store, "--log-format", "text"); code != exitFailure || !strings.Contains(errOut, "this host's clock") {
		t.Fatalf("catch-up of a sealed store with the clock 6 years behind: exit %d, want 1\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "run with no date (CronJob, timer) on a host whose clock is years or days behind the event log (before every archivalStart)",
		reliability.Refused,
		"exit 1 naming this host's clock and the event log's newest partition, a day not begun on it; nothing written; before, it planned nothing and exited 0 \"0 sealed, 0 failed, 0 pending\" at every run")
}
