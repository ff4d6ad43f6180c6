package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunCatchUpEventLogWithoutPartitions: eventlog set to the wrong folder (its parent,
// a mistyped S3 prefix, a mount not mounted yet). Every day due is "pending: partition
// does not exist", and `run` exited 0, hour after hour: the timer's unit succeeded, cron
// mailed nothing, the CronJob's Jobs completed, and with no serve (no metrics) nothing
// said that nothing was ever sealed. A catch-up that finds not one partition in the event
// log (YYYY-MM-DD) while days are due now exits 1 naming the event log; a log that holds
// some partition but not the days due keeps them pending (exit 0), as before.
func TestRunCatchUpEventLogWithoutPartitions(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-25T00:30:00Z")
	good := catchUpLog(t)
	wrong := t.TempDir() // the producer's partitions are elsewhere
	dir := filepath.Join(good, "directory.json")
	code, out, errOut := chatvault(t, "run", "--eventlog", wrong, "--directory", dir, "--store", t.TempDir(), "--log-format", "text")
	if code != exitFailure || !strings.Contains(out+errOut, wrong) || !strings.Contains(out+errOut, "no partition") {
		t.Fatalf("catch-up on an event log without partitions: exit %d, want %d naming %s\n%s%s", code, exitFailure, wrong, out, errOut)
	}
	if err := os.Remove(filepath.Join(good, "2026-11-22", "_CLOSED")); err != nil {
		t.Fatal(err)
	}
	// Days pending while the log holds a partition (here one not closed yet): exit 0.
	setRunClock(t, "2026-11-23T00:30:00Z")
	if code, out, errOut := chatvault(t, "run", "--eventlog", good, "--store", t.TempDir(), "--log-format", "text"); code != exitOK {
		t.Fatalf("catch-up with the days pending: exit %d, want 0\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "`run` with no date on an event log that holds no partition (eventlog mistyped)", reliability.CleanFailure,
		"exit 1 naming the event log, so the timer's unit fails, cron mails and the Job fails; it exited 0 every hour with every day pending, and a host without serve never learnt that nothing was sealed")
}
