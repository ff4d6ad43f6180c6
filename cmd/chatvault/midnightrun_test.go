package main

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunCatchUpAcrossMidnight: `run` with no date announces "through yesterday" from the
// clock at its start. Started at 23:59:59.999 UTC on 2026-11-22 and planning after
// midnight, it sealed 2026-11-22 (closed, and over by then) under the line "sealing every
// closed, unsealed day through 2026-11-21". A run's days are those of its start: it seals
// through the day it announced, and the next run seals the day that ended meanwhile.
func TestRunCatchUpAcrossMidnight(t *testing.T) {
	cleanEnv(t)
	logDir := catchUpLog(t)
	store := t.TempDir()
	before := time.Date(2026, 11, 22, 23, 59, 59, 999e6, time.UTC)
	var looks atomic.Int64
	old := runClock
	runClock = func() time.Time {
		if looks.Add(1) == 1 {
			return before // the run's start
		}
		return before.Add(500 * time.Millisecond) // the tick's plan and after: 2026-11-23
	}
	t.Cleanup(func() { runClock = old })
	args := []string{"run", "--eventlog", logDir, "--store", store, "--log-format", "text", "--quarantine-exit-code", "0"}
	code, out, errOut := chatvault(t, args...)
	if code != exitOK || !strings.Contains(errOut, "through 2026-11-21") {
		t.Fatalf("exit %d, want 0 announcing 2026-11-21\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "sealed 2026-11-22") || !strings.Contains(out, "catch-up: 0 sealed (organization-days), 0 failed, 2 pending") {
		t.Fatalf("the run announced through 2026-11-21 and did otherwise:\n%s%s", out, errOut)
	}
	if m, _ := filepath.Glob(filepath.Join(store, "orgs", "*", "d", "2026", "11", "22.*")); len(m) != 0 {
		t.Fatalf("2026-11-22 sealed by a run that started before it ended: %v", m)
	}
	// The next run, after midnight from its start, seals it.
	code, out, errOut = chatvault(t, args...)
	if code != exitOK || !strings.Contains(errOut, "through 2026-11-22") || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("next run: exit %d, want 2026-11-22 sealed\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "`run` with no date started at 23:59:59.999 UTC whose catch-up plans after midnight", reliability.Kept,
		"it seals through the yesterday it announced at its start (it sealed the day that had just ended under the line \"through\" the day before); the next run seals that day")
}
