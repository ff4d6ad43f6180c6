package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// checkEmptyExport runs `run` of 2026-11-22 into a new folder store, lets addDay put a
// day without records, 2026-11-23, into it, and checks that `export` of that day writes
// the JSONL of nothing: exit 0, to a file (-o) an empty file and nothing on stdout, and to
// stdout nothing.
func checkEmptyExport(t *testing.T, addDay func(s *fsstore.Store, day string)) {
	t.Helper()
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	fs, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	addDay(fs, "2026-11-23")
	fs.Close()

	file := filepath.Join(t.TempDir(), "acme.jsonl")
	code, out, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-23", "-o", file}, common...)...)
	if code != exitOK {
		t.Fatalf("export -o: exit %d\n%s", code, errOut)
	}
	if b, err := os.ReadFile(file); err != nil || len(b) != 0 || out != "" {
		t.Errorf("export -o: file %q (%v), stdout %q; want an empty file and nothing on stdout", b, err, out)
	}
	code, out, errOut = chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-23"}, common...)...)
	if code != exitOK || out != "" {
		t.Fatalf("export to stdout: exit %d, stdout %q\n%s", code, out, errOut)
	}
}

// TestExportOfEmptyLayout3Day: `export` of a day without records sealed in layout 3 (a
// manifest and no export object) writes the JSONL of nothing, as for an empty day of the
// old layout, checked against the manifest's empty hashes: exit 0, an empty file.
func TestExportOfEmptyLayout3Day(t *testing.T) {
	checkEmptyExport(t, func(s *fsstore.Store, day string) {
		d, _ := archiver.ParseDay(day)
		c := storetest.NewChain(t, s, acme)
		c.Marker(d)
		c.Day(d, 0)
	})
	reliability.Record(t, "input", "export (CLI) of a day without records sealed in layout 3 (no export object)", reliability.Kept,
		"exit 0 and the JSONL of nothing, checked against the manifest's empty hashes, as for an empty day of the old layout")
}

// TestExportOfEmptyDaySealedInLayout3: the same for a day without records that the writer
// sealed in layout 3, after a day sealed in the old layout by `run`.
func TestExportOfEmptyDaySealedInLayout3(t *testing.T) {
	checkEmptyExport(t, func(s *fsstore.Store, day string) {
		exporttest.SealEmptyLayout3Day(t, s, day, "../../testdata/eventlog/directory.json")
	})
	reliability.Record(t, "input", "export (CLI) of a day without records the layout-3 writer sealed", reliability.Kept,
		"exit 0 and the JSONL of nothing, checked against the manifest's empty hashes")
}
