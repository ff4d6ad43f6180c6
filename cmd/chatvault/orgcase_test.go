package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOrgIDsDifferingOnlyInCaseRefused: a directory snapshot with two organizations whose
// ids differ only in case (one UUID spelled twice, or a platform bug) was sealed: on a
// case-insensitive file system (macOS, Windows) orgs/<id>/ of the two is one folder, so
// their chains, days and exports mix, and each organization's token reads the other's.
// The snapshot is refused like any inconsistent one: run fails before sealing (exit 1),
// naming both ids and the file, and stores nothing.
func TestOrgIDsDifferingOnlyInCaseRefused(t *testing.T) {
	cleanEnv(t)
	logDir := sampleLogCopy(t)
	dirFile := filepath.Join(logDir, "directory.json")
	b, err := os.ReadFile(dirFile)
	if err != nil {
		t.Fatal(err)
	}
	// Initech (archival off) becomes an archiving organization whose id is Acme's in
	// upper case.
	upper := strings.ToUpper(acme)
	edited := strings.Replace(string(b), `"id": "0c1c2e3f-0000-4000-8000-00000000cccc",
      "name": "Initech",
      "archival": false,`, `"id": "`+upper+`",
      "name": "Initech",
      "archival": true,`, 1)
	edited = strings.ReplaceAll(edited, `"orgId": "0c1c2e3f-0000-4000-8000-00000000cccc"`, `"orgId": "`+upper+`"`)
	if edited == string(b) || !strings.Contains(edited, upper) {
		t.Fatal("the sample directory did not change")
	}
	if err := os.WriteFile(dirFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store)
	msg := out + errOut
	if code != exitFailure {
		t.Fatalf("run with organizations %s and %s: exit %d, want %d\n%s", acme, upper, code, exitFailure, msg)
	}
	for _, want := range []string{acme, upper, "only in case", "directory"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "orgs")); !os.IsNotExist(err) {
		t.Errorf("orgs/ in the store after the refusal (%v): something was sealed", err)
	}
	reliability.Record(t, "input", "directory with two organization ids that differ only in case (one folder on a case-insensitive file system)", reliability.Refused,
		"run fails before sealing (exit 1) naming both ids: never two organizations' chains and exports in one folder")
}
