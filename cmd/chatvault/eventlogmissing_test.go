package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunEventLogFolderMissingNamesTheWorkingDirectory: `bin/chatvault run` from another
// folder than the checkout (cd bin, a cron job's home folder) finds no ./testdata/eventlog,
// the default, and said "eventlog: open root: stat ./testdata/eventlog: no such file or
// directory". It now names the folder, the working directory a relative one is read from,
// and how to give the event log; exit 1 and nothing created, as before.
func TestRunEventLogFolderMissingNamesTheWorkingDirectory(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--log-format", "text")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"eventlog ./testdata/eventlog: no such folder", "working directory " + dir, "--eventlog"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error %q does not say %q", errOut, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the failed run created %v", entries)
	}
	// So does a read-only command's missing store (the default ./archive).
	_, _, errOut = chatvault(t, "verify", "--log-format", "text")
	if !strings.Contains(errOut, "store ./archive: no such folder in the working directory "+dir) {
		t.Errorf("verify from another folder: %q", errOut)
	}
	// An absolute path needs no working directory.
	missing := filepath.Join(dir, "nowhere")
	_, _, errOut = chatvault(t, "run", "--date", "2026-11-22", "--eventlog", missing, "--log-format", "text")
	if !strings.Contains(errOut, "eventlog "+missing+": no such folder") || strings.Contains(errOut, "working directory") {
		t.Errorf("absolute path: %q", errOut)
	}
	reliability.Record(t, "operations", "run from another folder than the checkout, with the default relative eventlog", reliability.CleanFailure,
		"exit 1 naming the folder and the working directory it was looked for in, nothing created; it said \"open root: stat …\"")
}
