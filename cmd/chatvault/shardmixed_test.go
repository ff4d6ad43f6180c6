package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestShardsBesideUnshardedRun: the commands in the mixed case. A day sealed by `run
// --date` (the scheduler's seal, unsharded), then by one shard of `run --date --shard i/2`
// alone (the other never runs: its pod was not needed, the day was sealed); and a day
// sealed by every shard of 2, then by `run --date` and one shard of 3. verify passes, with
// a warning naming the missing shards; status shows the day's complete record, not "no
// accounting object of shard(s)". On a folder store and on MinIO.
func TestShardsBesideUnshardedRun(t *testing.T) {
	for _, backend := range []string{"folder", "s3"} {
		t.Run(backend, func(t *testing.T) {
			var srv *miniotest.Server
			if backend == "s3" {
				srv = startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
			}
			cleanEnv(t)
			t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
			store := func() string {
				if srv == nil {
					return t.TempDir()
				}
				s3Env(t, srv)
				return "s3://" + srv.Bucket(t, false) + "/cv"
			}
			logDir := twoDayLog(t)
			run := func(st string, extra ...string) {
				t.Helper()
				args := append([]string{"run", "--date", "2026-11-23", "--eventlog", logDir, "--store", st}, extra...)
				if code, out, errOut := chatvault(t, args...); code != exitOK && code != exitQuarantined {
					t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
				}
			}
			check := func(st, warning, record string) {
				t.Helper()
				code, out, errOut := chatvault(t, "verify", "--store", st, "--eventlog", logDir)
				if code != exitOK || !strings.Contains(out+errOut, warning) {
					t.Fatalf("verify: exit %d, want 0 with a warning about %q\n%s%s", code, warning, out, errOut)
				}
				code, out, errOut = chatvault(t, "status", "--store", st, "--org", acme, "--from", "2026-11-23", "--to", "2026-11-23")
				line := ""
				for l := range strings.Lines(out) {
					if strings.HasPrefix(l, "2026-11-23") && (strings.Contains(l, "accounting/") || strings.Contains(l, " shards")) {
						line = l
					}
				}
				if code != exitOK || !strings.Contains(line, record) || strings.Contains(out, "no accounting object") {
					t.Fatalf("status: exit %d, want the day's accounting %q\n%s%s", code, record, out, errOut)
				}
			}

			// The scheduler's seal, then one shard alone.
			st := store()
			run(st)
			shard := archiver.ShardOf(acme, 2)
			run(st, "--shard", fmt.Sprintf("%d/2", shard))
			check(st, fmt.Sprintf("shard(s) [%d]", 1-shard), "accounting/2026-11-23/000001-")

			// A complete split of 2, then an unsharded rerun and one shard of 3.
			st = store()
			run(st, "--shard", "0/2")
			run(st, "--shard", "1/2")
			run(st)
			run(st, "--shard", "2/3")
			check(st, "shard(s) [0 1]", "accounting/2026-11-23/000003-")
		})
	}
	reliability.Record(t, "operations", "run --date, then some shards of run --shard i/n for the same day (and the other way), folder store and S3", reliability.Kept,
		"verify exits 0 with a warning naming the shards that did not run; status shows the day's complete accounting, not the partial split")
}
