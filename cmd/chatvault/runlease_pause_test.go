package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunDatePausedPastItsLease: `run --date 2026-11-22` holds the seal lease and is
// paused (SIGSTOP, a frozen VM) once its exports are durable, right before its manifests,
// while its clock moves on past the lease's TTL and the clock skew. `run --date 2026-11-23`
// takes the lease over and seals its day. The first resumes: without a fence it would
// commit its organizations' 2026-11-22 on the heads it read before the pause, each with
// the seq the second just gave 2026-11-23 (a fork); with it, each of those commits finds
// the lease lost and fails, writing nothing, and the run exits 1.
//
// The pause is a crashpoint's, which stops only the goroutine that hits it. The batch's
// flush runs alone, before the commits, so a pause there stops everything that writes, as
// a SIGSTOP would. A pause in a commit (commit.day:1, which this test used) would not:
// several commits are in flight at once (archiver's commitAll), and the others would go
// on, committing before the takeover or not as the scheduler happens to run them.
func TestRunDatePausedPastItsLease(t *testing.T) {
	cleanEnv(t)
	logDir := twoDayLog(t)
	storeDir := t.TempDir()
	t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
	common := []string{"--eventlog", logDir, "--store", storeDir}
	nowFile := filepath.Join(t.TempDir(), "now")
	t0 := time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)
	writeNow := func(at time.Time) {
		if err := os.WriteFile(nowFile, []byte(at.Format(time.RFC3339)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeNow(t0)
	var second struct {
		code         int
		stdout, errs string
	}
	first := runPaused(t, []string{"CHATVAULT_STORE_LAYOUT=3", "CHATVAULT_PAUSE_AT=fsstore.flush.synced:1",
		"CHATVAULT_TEST_NOW_FILE=" + nowFile}, func() {
		writeNow(t0.Add(sealLeaseTTL + 10*time.Minute)) // the pause, on the paused run's clock too
		// This process's clock is the wall clock: long after the first's lease ran out.
		second.code, second.stdout, second.errs = chatvault(t, append([]string{"run", "--date", "2026-11-23"}, common...)...)
	}, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if second.code != exitQuarantined {
		t.Fatalf("the second run, after the first's lease ran out: exit %d\n%s%s", second.code, second.stdout, second.errs)
	}
	if first.code != exitFailure || !strings.Contains(first.stdout+first.stderr, "the seal lease was lost before the commit") {
		t.Fatalf("the paused run after it resumed: exit %d; want 1 with its commits refused (the seal lease was lost)\n%s%s", first.code, first.stdout, first.stderr)
	}
	for _, org := range []string{acme, globex} {
		chainSeqs(t, storeDir, org) // fails on a fork
	}
	for _, k := range listStoreKeys(t, storeDir, "orgs/") {
		switch {
		case strings.Contains(k, "/2026/11/22.failed-"):
			t.Fatalf("the run that lost its lease wrote a failure record %s", k)
		case strings.Contains(k, "/2026/11/22.r"):
			t.Fatalf("the run that lost its lease committed %s", k)
		}
	}
	reliability.Record(t, "crash", "run --date paused past its seal lease's TTL right before its commits; another run took over and sealed the next day", reliability.Refused,
		"the resumed run's commits find the lease lost: they fail without a write (no fork, no failure record) and the run exits 1; the day is sealed again by a later run")
}
