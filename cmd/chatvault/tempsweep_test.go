package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// storeTemps counts the temporary files in a folder store and their bytes; owner files
// (".tmp-" and a token, at the root: one per writing process, fsstore/temps.go) apart.
func storeTemps(t *testing.T, dir string) (files int, bytes int64, owners int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), ".tmp-") {
			return err
		}
		if filepath.Dir(p) == dir && !strings.Contains(strings.TrimPrefix(d.Name(), ".tmp-"), ".") {
			owners++
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, bytes, owners
}

// TestKilledSealTemporariesReportedAndRemoved: a seal killed (SIGKILL) after its batch's
// objects were written and synced, before any was linked, leaves one temporary file per
// object, which the rerun neither reuses nor removes. verify counts them and their bytes
// in a warning, and verify --remove-temporaries removes them, with the killed process's
// owner file; afterwards verify warns no more.
func TestKilledSealTemporariesReportedAndRemoved(t *testing.T) {
	cleanEnv(t)
	logDir := copyEventLog(t)
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir}
	seal := append([]string{"run", "--date", "2026-11-22"}, common...)
	if res := runBinary(t, []string{"CHATVAULT_CRASH_AT=fsstore.flush.synced:1"}, nil, seal...); !res.killed {
		t.Fatalf("not killed at fsstore.flush.synced: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	files, bytes, owners := storeTemps(t, storeDir)
	if files == 0 || owners != 1 {
		t.Fatalf("the killed seal left %d temporary files and %d owner files; want some, and its owner file", files, owners)
	}
	if code, out, errOut := chatvault(t, seal...); code != exitQuarantined {
		t.Fatalf("rerun: exit %d\n%s%s", code, out, errOut)
	}
	if f, b, _ := storeTemps(t, storeDir); f != files || b != bytes {
		t.Fatalf("after the rerun: %d temporary files (%d bytes), want the killed seal's %d (%d bytes) still there", f, b, files, bytes)
	}

	verifyArgs := append([]string{"verify"}, common...)
	code, out, errOut := chatvault(t, verifyArgs...)
	want := fmt.Sprintf("%d temporary files (%d bytes) left in the store by writes that did not finish: %d (%d bytes) of writes whose process is gone, which verify --remove-temporaries removes",
		files, bytes, files, bytes)
	if code != exitOK || !strings.Contains(errOut, want) || !strings.Contains(out, ": 0 problems,") {
		t.Fatalf("verify: exit %d, want 0 and the warning %q\n%s%s", code, want, out, errOut)
	}

	code, out, errOut = chatvault(t, append(verifyArgs, "--remove-temporaries")...)
	removed := fmt.Sprintf("removed %d temporary files (%d bytes) of writes whose process is gone", files, bytes)
	if code != exitOK || !strings.Contains(out, removed) || strings.Contains(errOut, "temporary files") {
		t.Fatalf("verify --remove-temporaries: exit %d, want 0 and %q, no warning\n%s%s", code, removed, out, errOut)
	}
	if f, _, o := storeTemps(t, storeDir); f != 0 || o != 0 {
		t.Fatalf("after verify --remove-temporaries: %d temporary files and %d owner files left", f, o)
	}
	if code, out, errOut := chatvault(t, verifyArgs...); code != exitOK || strings.Contains(errOut, "temporary files") {
		t.Fatalf("verify after the removal: exit %d\n%s%s", code, out, errOut)
	}
	// A day's or an increment's verify walks no folder whole: it neither counts nor removes.
	for _, scope := range [][]string{{"--date", "2026-11-22"}, {"--incremental"}} {
		args := append(append(append([]string{}, verifyArgs...), scope...), "--remove-temporaries")
		if code, _, errOut := chatvault(t, args...); code != exitUsage || !strings.Contains(errOut, "--remove-temporaries") {
			t.Errorf("verify %v: exit %d, want %d naming --remove-temporaries\n%s", scope, code, exitUsage, errOut)
		}
	}
	reliability.Record(t, "operations", "folder store: seal killed (SIGKILL) between its batched creates and its flush", reliability.Recovered,
		"its temporary files (one per batched object) are counted with their bytes in a verify warning; verify --remove-temporaries removes them and the killed process's owner file; the rerun seals the day as before")
}

// TestLiveSealTemporariesKept: verify --remove-temporaries while a seal is paused between
// its batch's sync and its links removes none of its temporary files, nor warns of them;
// the seal then links them and completes, and verify passes.
func TestLiveSealTemporariesKept(t *testing.T) {
	cleanEnv(t)
	logDir := copyEventLog(t)
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("first day: exit %d\n%s%s", code, out, errOut)
	}
	var during struct {
		files, left int
		code        int
		out, errOut string
	}
	res := runPaused(t, []string{"CHATVAULT_PAUSE_AT=fsstore.flush.synced:1"}, func() {
		during.files, _, _ = storeTemps(t, storeDir)
		during.code, during.out, during.errOut = chatvault(t, append([]string{"verify", "--remove-temporaries"}, common...)...)
		during.left, _, _ = storeTemps(t, storeDir)
	}, append([]string{"run", "--date", "2026-11-23"}, common...)...)
	if during.files == 0 {
		t.Fatal("no temporary file while the seal was paused before its links")
	}
	if during.left != during.files || strings.Contains(during.out, "removed") || strings.Contains(during.errOut, "temporary files") {
		t.Fatalf("verify --remove-temporaries during the seal: %d of %d temporary files left, exit %d\n%s%s",
			during.left, during.files, during.code, during.out, during.errOut)
	}
	if res.code != exitQuarantined && res.code != exitOK {
		t.Fatalf("the paused seal: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if f, _, o := storeTemps(t, storeDir); f != 0 || o != 0 {
		t.Fatalf("after the seal: %d temporary files and %d owner files left", f, o)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK {
		t.Fatalf("verify after the seal: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "folder store: verify --remove-temporaries while another process's seal has its batch pending", reliability.Kept,
		"none of the live seal's temporary files is removed or warned of (its owner file is locked); the seal then links them and verify passes")
}
