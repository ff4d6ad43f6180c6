package exporttest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SampleLog copies the sample event log's directory (testdata/eventlog) into a new
// temporary folder, with the sample day's partition (2026-11-22: closed) under each of
// dates, and returns the folder.
func SampleLog(t testing.TB, dates ...string) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("exporttest: cannot find the repository's testdata")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "eventlog")
	root := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(src, "directory.json"), filepath.Join(root, "directory.json"))
	entries, err := os.ReadDir(filepath.Join(src, "2026-11-22"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dates {
		for _, e := range entries {
			copyFile(filepath.Join(src, "2026-11-22", e.Name()), filepath.Join(root, d, e.Name()))
		}
	}
	return root
}
