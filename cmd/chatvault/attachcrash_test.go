package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentCaptureCrash kills `run --date` (SIGKILL, from a crash point of the
// crashpoints build) at each step of the attachment capture after the seal: mid-write of
// the staging file, after the fetch, after the file's create, after its URL record, before
// the index. Each time nothing is half-stored (every stored file hashes to its name, no
// index names a file that is not there), and the next run completes the capture: both
// organizations' indexes say the file was captured, with the bytes served.
func TestAttachmentCaptureCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crashpoint binary")
	}
	const body = "%PDF the contract, version 3"
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256([]byte(body))
	for _, point := range []string{"attach.stage:1", "attach.fetched:1", "attach.file:1", "attach.url:1", "attach.index:1", "attach.file:2"} {
		t.Run(point, func(t *testing.T) {
			cleanEnv(t)
			logDir := sampleLogCopy(t)
			linkTo(t, logDir, srv.URL)
			storeDir := t.TempDir()
			t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
			t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))
			tempDir := t.TempDir()
			args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", storeDir,
				"--temp-dir", tempDir, "--log-format", "json"}
			res := runBinary(t, []string{"CHATVAULT_CRASH_AT=" + point}, nil, args...)
			if !res.killed {
				t.Fatalf("run was not killed at %s: exit %d\n%s%s", point, res.code, res.stdout, res.stderr)
			}
			st := (&fsTarget{dir: storeDir}).store(t)
			ctx := context.Background()
			day, _ := archiver.ParseDay("2026-11-22")
			for _, org := range []string{acme, globexID} {
				prefix := attach.Prefix + org + "/files/"
				for _, key := range listKeys(t, st, prefix) {
					b, err := archiver.ReadAll(ctx, st, key)
					if err != nil {
						t.Fatal(err)
					}
					if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != strings.TrimPrefix(key, prefix) {
						t.Fatalf("%s does not hash to its name after the crash", key)
					}
				}
				if ix, err := attach.LatestIndex(ctx, st, org, day, nil); err != nil {
					t.Fatal(err)
				} else if ix != nil {
					for _, e := range ix.Entries {
						if e.Outcome == attach.Captured {
							if _, err := archiver.ReadAll(ctx, st, e.Key); err != nil {
								t.Fatalf("%s names %s, which is not there: %v", ix.Key, e.Key, err)
							}
						}
					}
				}
			}

			code, out, errOut := chatvault(t, args...)
			if code != exitOK && code != exitQuarantined {
				t.Fatalf("rerun after the crash at %s: exit %d\n%s%s", point, code, out, errOut)
			}
			// The killed run's staging folder was swept by the rerun, which removed its own.
			if left, err := filepath.Glob(filepath.Join(tempDir, "chatvault-work-*")); err != nil || len(left) != 0 {
				t.Fatalf("temp dir after the rerun holds %q (%v), want no work folder", left, err)
			}
			for _, org := range []string{acme, globexID} {
				ix, err := attach.LatestIndex(ctx, st, org, day, nil)
				if err != nil || ix == nil {
					t.Fatalf("%s's index after the rerun: %v, %v", org, ix, err)
				}
				var found bool
				for _, e := range ix.Entries {
					if strings.HasPrefix(e.URL, srv.URL) {
						found = e.Outcome == attach.Captured && e.SHA256 == hex.EncodeToString(sum[:]) && e.Size == int64(len(body))
					}
				}
				if !found {
					t.Fatalf("%s's index after the rerun does not hold the file captured: %+v", org, ix.Entries)
				}
			}
			reliability.Record(t, "crash", "run killed during attachment capture ("+point+")", reliability.Recovered,
				"nothing half-stored; the next run completes both organizations' indexes")
		})
	}
}
