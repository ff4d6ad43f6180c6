package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// twoDayLog copies the sample day to 2026-11-22 and 2026-11-23.
func twoDayLog(t *testing.T) string {
	t.Helper()
	return copyEventLog(t) // serve_test.go
}

// TestRunDateTakesTheSealLease: `run --date` takes the store's seal lease, as the
// catch-up does. Two runs of different days of one organization's chain at once (in store
// layout 3 both would commit with the same seq, a fork): the second is refused with
// "another sealer is running" and commits nothing; run again afterwards, it continues the
// chain.
func TestRunDateTakesTheSealLease(t *testing.T) {
	cleanEnv(t)
	logDir := twoDayLog(t)
	storeDir := t.TempDir()
	t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
	common := []string{"--eventlog", logDir, "--store", storeDir}
	var refused struct {
		code   int
		stderr string
		keys   []string
	}
	// The first run pauses right after its first manifest, holding the lease.
	first := runPaused(t, []string{"CHATVAULT_STORE_LAYOUT=3", "CHATVAULT_PAUSE_AT=commit.day:1"}, func() {
		refused.code, _, refused.stderr = chatvault(t, append([]string{"run", "--date", "2026-11-23"}, common...)...)
		refused.keys = listStoreKeys(t, storeDir, "orgs/"+acme+"/d/2026/11/23.")
	}, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if first.code != exitQuarantined {
		t.Fatalf("first run: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	if refused.code != exitFailure || !strings.Contains(refused.stderr, "another sealer is running") {
		t.Fatalf("second run while the first held the lease: exit %d\n%s", refused.code, refused.stderr)
	}
	if len(refused.keys) != 0 {
		t.Fatalf("the refused run wrote %q", refused.keys)
	}
	// Once the first is done, the second seals its day after it: one chain, no fork.
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-23"}, common...)...); code != exitQuarantined {
		t.Fatalf("second run after the first: exit %d\n%s%s", code, out, errOut)
	}
	seqs := chainSeqs(t, storeDir, acme) // shardrace_test.go
	if len(seqs) != 2 || seqs[1] == "" || seqs[2] == "" {
		t.Fatalf("Acme's manifests by seq: %v; want seq 1 and 2", seqs)
	}
	reliability.Record(t, "operations", "run --date while another sealer holds the store's seal lease", reliability.Refused,
		"exits with \"another sealer is running\" before writing anything; two sealers of different days of one organization never commit at once, so layout 3's chain cannot fork between them")
}

// listStoreKeys lists a folder store's keys under prefix.
func listStoreKeys(t *testing.T, dir, prefix string) []string {
	t.Helper()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	if err := st.List(context.Background(), prefix, func(k string) error {
		out = append(out, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunDateRerunAfterKill: a run killed while it holds the seal lease (layout 3) leaves
// its lease behind; the rerun on the same host sees that its holder's process is gone,
// takes the lease over at once and completes the day.
func TestRunDateRerunAfterKill(t *testing.T) {
	cleanEnv(t)
	logDir := twoDayLog(t)
	storeDir := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", storeDir}
	killed := runBinary(t, []string{"CHATVAULT_STORE_LAYOUT=3", "CHATVAULT_CRASH_AT=commit.day:1"}, nil, args...)
	if !killed.killed {
		t.Fatalf("the run was not killed: exit %d\n%s", killed.code, killed.stderr)
	}
	if len(listStoreKeys(t, storeDir, "leases/scheduler/")) == 0 {
		t.Fatal("the killed run held no lease")
	}
	rerun := runBinary(t, []string{"CHATVAULT_STORE_LAYOUT=3"}, nil, args...)
	if rerun.code != exitQuarantined {
		t.Fatalf("rerun after the kill: exit %d\n%s%s", rerun.code, rerun.stdout, rerun.stderr)
	}
	for _, org := range []string{acme, "0b1c2e3f-0000-4000-8000-00000000bbbb"} {
		if keys := listStoreKeys(t, storeDir, archiver.DayKey3(org, mustParseDay(t, "2026-11-22"), 1)); len(keys) != 1 {
			t.Errorf("%s: manifest of 2026-11-22 after the rerun: %q", org, keys)
		}
	}
	reliability.Record(t, "crash", "layout 3: run --date killed while holding the seal lease, then rerun", reliability.Recovered,
		"the rerun on the same host sees that the lease's holder process is gone and takes the lease over at once (no wait for its TTL); the day is completed")
}

// TestShardRunWaitsForTheScheduler: a sharded run takes its shard's lease, which keeps the
// other runs of its shard out but not the scheduler, which seals every organization. While
// the scheduler's lease is held, `run --shard` is refused before it writes anything, so
// a shard and the nightly seal never commit to one chain at once (a fork in layout 3).
func TestShardRunWaitsForTheScheduler(t *testing.T) {
	checkRefusedWhileHeld(t, "", "replica-a", []string{"--shard", "0/2"}, []string{"--shard", "1/2"})
	reliability.Record(t, "operations", "run --shard i/n while the scheduler holds the store's seal lease", reliability.Refused,
		"exits with \"another sealer is running\" naming the holder, writes nothing and gives its shard lease back; the scheduler likewise waits while a shard lease is held, so the two never fork a chain")
}

// checkRefusedWhileHeld holds a lease (the store's seal lease when prefix is "", else the
// shard lease at prefix) as holder in a new layout-3 store, and checks that `run --date
// 2026-11-23` with each of runs' extra arguments is refused ("another sealer is running",
// naming holder) without writing anything under orgs/ or keeping a lease; once the lease
// is released, each runs.
func checkRefusedWhileHeld(t *testing.T, prefix, holder string, runs ...[]string) {
	t.Helper()
	cleanEnv(t)
	logDir := twoDayLog(t)
	storeDir := t.TempDir()
	t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
	st, err := fsstore.New(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	held := &scheduler.Lease{Store: st, Prefix: prefix, Holder: holder, TTL: time.Hour, Clock: scheduler.RealClock{}}
	if err := held.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(extra []string) (int, string, string) {
		return chatvault(t, append([]string{"run", "--date", "2026-11-23", "--eventlog", logDir, "--store", storeDir}, extra...)...)
	}
	for _, extra := range runs {
		if code, _, errOut := run(extra); code != exitFailure || !strings.Contains(errOut, "another sealer is running") || !strings.Contains(errOut, holder) {
			t.Fatalf("run %q while %s holds %q: exit %d\n%s", extra, holder, prefix, code, errOut)
		}
	}
	if keys := listStoreKeys(t, storeDir, "orgs/"); len(keys) != 0 {
		t.Fatalf("a refused run wrote %q", keys)
	}
	// No lease but the one held is held: the refused runs gave theirs back.
	observer := &scheduler.Lease{Store: st, Holder: "observer", Clock: scheduler.RealClock{}}
	if h, ok, err := observer.HeldByAnother(ctx); err != nil || (ok && (prefix != "" || h != holder)) {
		t.Fatalf("the store's seal lease: held by %q (%v)", h, err)
	}
	if p, h, err := scheduler.ShardRunning(ctx, observer); err != nil || (p != "" && (p != prefix || h != holder)) {
		t.Fatalf("shard lease %q held by %q (%v)", p, h, err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, extra := range runs {
		if code, out, errOut := run(extra); code == exitFailure {
			t.Fatalf("run %q after the lease was released: exit %d\n%s%s", extra, code, out, errOut)
		}
	}
}
