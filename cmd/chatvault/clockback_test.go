package main

import (
	"strings"
	"testing"
)

// TestRunAfterTheClockWentBack: a run seals 2026-11-22 on 2026-11-27; the host's clock
// then goes back to 2026-11-23 (a VM restored from a snapshot) and the operator reseals
// the day. The first run's release of the store lease read as a live lease until the
// clock caught up: exit 1, "another sealer is running … try again when it is done", for
// four days. The lease is free; the rerun finds the day unchanged and exits 0.
func TestRunAfterTheClockWentBack(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--log-format", "text"}
	setRunClock(t, "2026-11-27T03:00:00Z")
	if code, out, errOut := chatvault(t, args...); code != exitQuarantined {
		t.Fatalf("first run: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	setRunClock(t, "2026-11-23T03:00:00Z")
	code, out, errOut := chatvault(t, args...)
	if code != exitOK || strings.Contains(out+errOut, "another sealer") {
		t.Fatalf("rerun with the clock 4 days back: exit %d, want 0 (the lease was released)\n%s%s", code, out, errOut)
	}
}
