package main

import (
	"context"
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
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		renew    bool // the holder renews its lease while the run waits: it is alive
		wantCode int
		want     string
	}{
		{"killed pod's lease, not renewed", 2 * time.Second, false, exitQuarantined, "shard 0/2"},
		{"live pod of the same index, renewing", 2 * time.Second, true, exitFailure, "another sealer is running"},
		{"a lease longer than a run's", time.Hour, false, exitFailure, "another sealer is running"},
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
			// The earlier pod of index 0: another host, so no rerun can see its process.
			pod := &scheduler.Lease{Store: st, Prefix: scheduler.ShardLeasesPrefix + "2/0/", Holder: "chatvault-seal-2026-11-22-0-x7k2p-run1-00c0ffee",
				TTL: tc.ttl, Clock: scheduler.RealClock{}, MaxSkew: time.Second}
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
						case <-time.After(tc.ttl / 4):
						}
						if err := pod.Acquire(ctx); err != nil && ctx.Err() == nil {
							t.Errorf("the live pod's renewal: %v", err)
							return
						}
					}
				}()
			}
			code, out, errOut := chatvault(t, "run", "--config", config, "--date", "2026-11-22", "--shard", "0/2",
				"--eventlog", "../../testdata/eventlog", "--store", storeDir)
			cancel()
			wg.Wait()
			if code != tc.wantCode || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("run --shard 0/2 beside the lease of %s: exit %d, want %d with %q\n%s%s", pod.Holder, code, tc.wantCode, tc.want, out, errOut)
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
				if archiver.ShardOf(org, 2) != 0 {
					continue
				}
				if keys := listStoreKeys(t, storeDir, archiver.DayKey3(org, mustParseDay(t, "2026-11-22"), 1)); len(keys) != 1 {
					t.Errorf("%s: manifest of 2026-11-22 after the retry: %q", org, keys)
				}
			}
			observer := &scheduler.Lease{Store: st, Prefix: pod.Prefix, Holder: "observer", Clock: scheduler.RealClock{}, MaxSkew: time.Second}
			if h, held, err := observer.HeldByAnother(context.Background()); err != nil || held {
				t.Fatalf("the shard's lease after the retry: held by %q (%v)", h, err)
			}
		})
	}
	reliability.Record(t, "crash", "a shard's pod killed while sealing (OOMKilled, SIGKILL), retried by the Indexed Job in a new pod", reliability.Recovered,
		"TestShardRetryAfterKilledPod: the retry waits for the dead pod's shard lease to run out (not renewed: at most its TTL and the clock skew) and seals the shard; every retry exited 1 \"another sealer is running\" before, and the Job failed; a lease that is renewed (a live pod of the same index) is still refused")
}
