package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestShardRetryAfterKilledPod: the Indexed Job retries a failed shard in a new pod (another
// host name) 10, 20 and 40 seconds after the failure (backoffLimitPerIndex: 3). A pod
// killed while it sealed (OOMKilled, SIGKILL) leaves its shard's lease behind, and a host
// cannot tell another host's run dead (deadRunHolder), so the lease only runs out its TTL
// and the clock skew (2 and 1 minutes by default), after 80 to 180 seconds: every retry
// exited 1 "another sealer is running" and the Job failed with the day incomplete, though
// the README said "the retry finishes what a killed attempt began". A shard whose lease a
// run of the same shard holds now waits, while the lease is not renewed, for it to run
// out, and takes it over then; a holder that renews it is alive (two pods of one index at
// once), and one whose link outlasts a run's TTL is no run: both are refused as before.
// The test's leases have a 2s TTL and the skew is 1s, so that the wait is short.
func TestShardRetryAfterKilledPod(t *testing.T) {
	checkRetryAfterKilledHolder(t, scheduler.ShardLeasesPrefix+"2/0/", "chatvault-seal-2026-11-22-0-x7k2p-run1-00c0ffee",
		[]string{"--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--shard", "0/2"}, "shard 0/2", func(org string) bool { return archiver.ShardOf(org, 2) == 0 })
	reliability.Record(t, "crash", "a shard's pod killed while sealing (OOMKilled, SIGKILL), retried by the Indexed Job in a new pod", reliability.Recovered,
		"TestShardRetryAfterKilledPod: the retry waits for the dead pod's shard lease to run out (not renewed: at most its TTL and the clock skew) and seals the shard; every retry exited 1 \"another sealer is running\" before, and the Job failed; a lease that is renewed (a live pod of the same index) is still refused")
}

// TestRunDateRetryAfterKilledPod: an unsharded `run --date` retried on another host after
// the first run was killed while it held the store's seal lease (a Kubernetes Job's pod
// OOMKilled and retried by backoffLimit in a new pod, a systemd unit restarted on another
// host). The rerun cannot check the killed run's process (deadRunHolder), so it exited 1
// "another sealer is running" until the lease ran out its TTL and the clock skew (3
// minutes by default), after every retry of the Job had failed. It now waits, as a shard's
// retry does (TestShardRetryAfterKilledPod), while the lease is not renewed, and seals; a
// renewed lease (a live sealer: serve's scheduler, another run) is still refused.
func TestRunDateRetryAfterKilledPod(t *testing.T) {
	checkRetryAfterKilledHolder(t, "", "chatvault-run-2026-11-22-x7k2p-run1-00c0ffee",
		[]string{"--date", "2026-11-22", "--eventlog", "../../testdata/eventlog"}, "2026-11-22", func(string) bool { return true })
	reliability.Record(t, "crash", "run --date (unsharded) killed while sealing (OOMKilled, SIGKILL), retried on another host (a Job's new pod, a restart elsewhere)", reliability.Recovered,
		"TestRunDateRetryAfterKilledPod: the retry waits for the killed run's seal lease to run out (not renewed: at most its TTL and the clock skew) and seals the day; every retry exited 1 \"another sealer is running\" before, until the lease ran out; a lease that is renewed (a live sealer) is still refused")
}

// TestCatchUpRetryAfterKilledPod: `run` with no date (the catch-up the CronJob runs, through
// the scheduler's Tick) retried in a new pod after the first was killed while it held the
// store's seal lease. It exited 1 "another sealer is running (lease held)" until the lease
// ran out its TTL and the clock skew, as `run --date` did before
// TestRunDateRetryAfterKilledPod. It now waits, as that run does, while the lease is not
// renewed, and seals; a renewed lease, one longer than a run's and a live run of this host
// are still refused. run's clock moves from 2026-11-25T00:30Z, so that 2026-11-22 is due.
func TestCatchUpRetryAfterKilledPod(t *testing.T) {
	start, base := time.Now(), time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC)
	old := runClock
	runClock = func() time.Time { return base.Add(time.Since(start)) }
	t.Cleanup(func() { runClock = old })
	checkRetryAfterKilledHolder(t, "", "chatvault-29391120-x7k2p-00c0ffee",
		[]string{"--eventlog", catchUpLog(t)}, "catch-up: 2 sealed", func(string) bool { return true })
	reliability.Record(t, "crash", "run with no date (the catch-up, the CronJob's) killed while sealing (OOMKilled, SIGKILL), retried in a new pod", reliability.Recovered,
		"the retry waits for the killed run's seal lease to run out (not renewed: at most its TTL and the clock skew) and seals the days due; every retry exited 1 \"another sealer is running (lease held)\" before, until the lease ran out; a lease that is renewed (a live sealer) or a live run of this host is still refused")
}

// checkRetryAfterKilledHolder holds the seal lease at prefix ("" for the store's) as holder,
// a run on another host, with a short TTL, renewing it or not, and runs `run` with args
// (which seal 2026-11-22) beside it: the run waits out a lease that is not renewed and
// seals (its output names want; orgSealed picks the organizations it seals), and is
// refused beside a renewed lease or one longer than a run's. The lease's clock is run's
// (runClock), which a catch-up's test sets.
func checkRetryAfterKilledHolder(t *testing.T, prefix, holder string, args []string, want string, orgSealed func(org string) bool) {
	t.Helper()
	leaseName := prefix
	if prefix == "" {
		leaseName = "leases/scheduler/"
	}
	// A run of this host whose process runs (the test's parent, go test): alive, as
	// deadRunHolder tells a killed one of this host dead.
	host, _ := os.Hostname()
	localLive := fmt.Sprintf("%s-run%d-00c0ffee", host, os.Getppid())
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		renew    bool   // the holder renews its lease while the run waits: it is alive
		holder   string // when not the killed run's
		wantCode int
		want     string
	}{
		{"killed pod's lease, not renewed", 2 * time.Second, false, "", exitQuarantined, want},
		// A TTL well past any stall of a loaded machine (go test -race ./... on 2 cores): with
		// 2 s, a 3 s stall of the renewing goroutine let the lease run out for real, and the
		// run took it over (exit 3) once in four loaded runs.
		{"live holder, renewing", 30 * time.Second, true, "", exitFailure, "another sealer is running"},
		// Refused at once, naming the lease (the unsharded run names the clocks too, as
		// before: no run writes such a link, so the clocks may be apart).
		{"a lease longer than a run's", time.Hour, false, "", exitFailure, leaseName},
		// Refused at once, without waiting for a renewal: its process is seen running.
		{"a live run of this host, between renewals", 2 * time.Second, false, localLive, exitFailure, "another sealer is running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
			dir := t.TempDir()
			config := filepath.Join(dir, "chatvault.yaml")
			if err := os.WriteFile(config, []byte("schedule:\n  leaseMaxSkew: 1s\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			storeDir := filepath.Join(dir, "store")
			st, err := fsstore.New(storeDir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx, cancel := context.WithCancel(context.Background())
			// The killed run: another host, so no rerun can see its process.
			pod := &scheduler.Lease{Store: st, Prefix: prefix, Holder: cmp.Or(tc.holder, holder),
				TTL: tc.ttl, Clock: runClockT{}, MaxSkew: time.Second}
			if err := pod.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			if tc.renew {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-ctx.Done():
							return
						case <-time.After(min(tc.ttl/4, 500*time.Millisecond)):
						}
						if err := pod.Acquire(ctx); err != nil && ctx.Err() == nil {
							t.Errorf("the live pod's renewal: %v", err)
							return
						}
					}
				}()
			}
			code, out, errOut := chatvault(t, append([]string{"run", "--config", config, "--store", storeDir}, args...)...)
			cancel()
			wg.Wait()
			if code != tc.wantCode || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("run %q beside the lease of %s: exit %d, want %d with %q\n%s%s", args, pod.Holder, code, tc.wantCode, tc.want, out, errOut)
			}
			keys := listStoreKeys(t, storeDir, "orgs/")
			if sealed := len(keys) > 0; sealed != (tc.wantCode != exitFailure) {
				t.Fatalf("exit %d with %d objects under orgs/", code, len(keys))
			}
			if tc.wantCode == exitFailure {
				return
			}
			// Its organizations sealed; its own lease given back.
			for _, org := range []string{acme, "0b1c2e3f-0000-4000-8000-00000000bbbb"} {
				if !orgSealed(org) {
					continue
				}
				if keys := listStoreKeys(t, storeDir, archiver.DayKey3(org, mustParseDay(t, "2026-11-22"), 1)); len(keys) != 1 {
					t.Errorf("%s: manifest of 2026-11-22 after the retry: %q", org, keys)
				}
			}
			observer := &scheduler.Lease{Store: st, Prefix: pod.Prefix, Holder: "observer", Clock: runClockT{}, MaxSkew: time.Second}
			if h, held, err := observer.HeldByAnother(context.Background()); err != nil || held {
				t.Fatalf("the lease %q after the retry: held by %q (%v)", pod.Prefix, h, err)
			}
		})
	}
}
