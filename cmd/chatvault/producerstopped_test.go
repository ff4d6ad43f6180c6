package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// closedEmptyPartition delivers day as an empty, closed partition of logDir.
func closedEmptyPartition(t *testing.T, logDir, day string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(logDir, day), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, day, "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunCatchUpProducerStopped: the producer delivers 2026-11-22 and then nothing. On a
// host where cron, a systemd timer or a CronJob runs `chatvault run` and no serve exports
// metrics, every hourly run exited 0 with the days since listed as pending, so cron
// mailed nothing and the Jobs succeeded, for as long as the producer stayed down
// (DESIGN: a missing partition "stays pending and raises an alert"). Once a day after
// the event log's newest partition has been over for scheduler.DefaultRetryFor (26h: the
// producer is absent, not late), the catch-up still seals what it can but exits 1,
// naming the newest partition and the days not delivered since. A gap before the newest
// partition (a day the producer skipped or a backlog before the log begins) stays
// pending with exit 0, as before, and so does a day whose partition is merely late.
func TestRunCatchUpProducerStopped(t *testing.T) {
	cleanEnv(t)
	logDir := catchUpLog(t) // only 2026-11-22 delivered; Acme and Globex archive from 2026-11-20
	store := t.TempDir()
	args := []string{"run", "--eventlog", logDir, "--store", store, "--log-format", "text"}

	// 2026-11-23 ended 25h ago: the producer may just be late.
	setRunClock(t, "2026-11-25T01:00:00Z")
	code, out, errOut := chatvault(t, args...)
	if code != exitQuarantined || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("first catch-up: exit %d, want %d with 2026-11-22 sealed\n%s%s", code, exitQuarantined, out, errOut)
	}

	// 2026-11-23 ended 27h ago and nothing after 2026-11-22 has come.
	setRunClock(t, "2026-11-25T03:00:00Z")
	code, out, errOut = chatvault(t, args...)
	if code != exitFailure {
		t.Fatalf("catch-up with nothing delivered for 27h after the newest partition: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	for _, want := range []string{"newest partition is 2026-11-22", "2026-11-23..2026-11-24", "not delivered"} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("the failure does not say %q:\n%s%s", want, out, errOut)
		}
	}
	if !strings.Contains(out, "catch-up: 0 sealed (organization-days), 0 failed, 4 pending") {
		t.Errorf("the summary is not printed:\n%s", out)
	}

	// The producer resumes: the days after the newest partition are delivered, the gap
	// before it (2026-11-20, 2026-11-21) is not. The run seals and exits 0.
	closedEmptyPartition(t, logDir, "2026-11-23")
	closedEmptyPartition(t, logDir, "2026-11-24")
	code, out, errOut = chatvault(t, args...)
	if code != exitOK || !strings.Contains(out, "pending 2026-11-20..2026-11-21") {
		t.Fatalf("catch-up with only an old gap pending: exit %d, want 0 with the gap pending\n%s%s", code, out, errOut)
	}
	_, out, errOut = chatvault(t, "status", "--eventlog", logDir, "--store", store, "--org", "0a1c2e3f-0000-4000-8000-00000000aaaa", "--date", "2026-11-24")
	if !strings.Contains(out, "2026-11-24  empty") {
		t.Errorf("2026-11-24 of Acme is not sealed empty:\n%s%s", out, errOut)
	}
	reliability.Record(t, "operations", "`run` with no date after the producer stopped delivering (older partitions there, none for the last days)", reliability.CleanFailure,
		"exit 1 once a day after the newest partition ended 26h ago, naming the newest partition and the days not delivered since (what it can seal is sealed); it exited 0 with the days pending every hour, and a host without serve never heard; an older gap stays pending with exit 0")
}
