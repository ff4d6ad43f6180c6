package main

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestGoroutinePanicExitsFailure: Main recovers a panic of the command's own goroutine
// (TestPanicExitsFailure), but a seal runs much of its work on goroutines it starts: the
// event log's readers, the decode workers, each organization's compression and staging,
// the block compressors, the manifests' commits. A panic on one of those (a bug) was not
// recovered: the Go runtime printed it and exited 2, the code of bad usage or
// configuration, on which the Kubernetes Jobs fail at once instead of retrying, and no
// deferred cleanup ran (the seal lease's release, the store batch's Abort, the temporary
// folders). The panic is now an error of that goroutine's work: the run fails with exit 1,
// the panic and its stack are logged, nothing is left behind, and a rerun seals the day.
// Each case panics at the first hit of a crash point (CHATVAULT_PANIC_AT) on a goroutine
// of its own; merge.record is hit on the seal's goroutine, which Main recovered already.
// stage.batch panics on the first batch of an organization of a day large enough that the
// merge has many more to hand it: the merge must not wait for ever on the goroutine gone.
func TestGoroutinePanicExitsFailure(t *testing.T) {
	cleanEnv(t)
	large := t.TempDir()
	if code, out, errOut := reference(t, "gen", "--date", "2026-11-22", "--events", "20000", "--orgs", "2", "--out", large); code != exitOK {
		t.Fatalf("gen: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct{ point, eventlog string }{
		{"read.line", "../../testdata/eventlog"},    // an event log reader's goroutine (the pipeline's reader callback)
		{"gzip.block", "../../testdata/eventlog"},   // a block compressor's goroutine
		{"stage.batch", large},                      // an organization's staging goroutine, the merge still sending
		{"store.export", "../../testdata/eventlog"}, // an organization's staging goroutine
		{"commit.day", "../../testdata/eventlog"},   // a manifest commit's goroutine (layout 3)
		{"merge.record", "../../testdata/eventlog"}, // the seal's own goroutine
	} {
		point := tc.point
		t.Run(point, func(t *testing.T) {
			cleanEnv(t)
			storeDir, tempDir := t.TempDir(), t.TempDir()
			args := []string{"run", "--date", "2026-11-22", "--eventlog", tc.eventlog, "--store", storeDir, "--log-format", "json"}
			env := []string{"CHATVAULT_STORE_LAYOUT=3", "CHATVAULT_EXPORT_TEMPDIR=" + tempDir}
			res := runBinary(t, append(env, "CHATVAULT_PANIC_AT="+point+":1"), nil, args...)
			want := "panic: crashpoint: " + point + ":1"
			if res.killed || res.code != exitFailure || !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "goroutine ") {
				t.Fatalf("exit %d (killed %v); want %d, stderr naming %q and its stack\n%s%s", res.code, res.killed, exitFailure, want, res.stdout, res.stderr)
			}
			// Cleaned up: no temporary file in the store, nothing in export.tempDir but the
			// guard that stays (workdir.go), the seal lease given back.
			left := func() []string {
				var paths []string
				for _, dir := range []string{storeDir, tempDir} {
					err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
						if err == nil && (dir == tempDir && p != dir && d.Name() != "chatvault.lock" || strings.HasPrefix(d.Name(), ".tmp-")) {
							paths = append(paths, p)
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				return paths
			}
			if paths := left(); len(paths) > 0 {
				t.Errorf("left behind: %q", paths)
			}
			st, err := fsstore.New(storeDir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			observer := &scheduler.Lease{Store: st, Holder: "observer", Clock: scheduler.RealClock{}, MaxSkew: time.Second}
			if h, held, err := observer.HeldByAnother(context.Background()); err != nil || held {
				t.Errorf("the seal lease after the failed run: held by %q (%v)", h, err)
			}
			if rerun := runBinary(t, env, nil, args...); rerun.code != exitOK && rerun.code != exitQuarantined {
				t.Errorf("rerun: exit %d, want %d or %d\n%s%s", rerun.code, exitOK, exitQuarantined, rerun.stdout, rerun.stderr)
			}
			if paths := left(); len(paths) > 0 {
				t.Errorf("left behind by the rerun: %q", paths)
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "a panic (a bug) on one of a seal's goroutines: a reader, a decode worker, a compressor, an organization's staging, a commit", reliability.CleanFailure,
			"the panic is that goroutine's error: exit 1 as any failure, the panic and its stack logged, the lease released, the batch aborted, the temporary files removed, and a rerun seals the day; the Go runtime's exit 2 before, read as a configuration error (the Kubernetes Jobs failed at once instead of retrying), with nothing cleaned up")
	}
}
