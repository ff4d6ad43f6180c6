package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestExportOfTamperedDayFails: `export` of a day whose stored object was rewritten with a
// valid gzip of other records of the same length (every size and gzip check passes)
// fails, exit 1, naming the mismatch, and leaves no -o file behind.
func TestExportOfTamperedDayFails(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	var data string
	filepath.WalkDir(filepath.Join(store, "orgs", acme), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "events-") {
			data = p
		}
		return err
	})
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	forged := exporttest.Regzip(t, b, func(plain []byte) []byte {
		i := bytes.Index(plain, []byte(`"displayName":"`)) + len(`"displayName":"`)
		plain[i] ^= 0x01
		return plain
	})
	os.Chmod(data, 0o600)
	if err := os.WriteFile(data, forged, 0o600); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "acme.jsonl")
	code, _, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", file}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, "does not match its manifest") {
		t.Fatalf("export -o of a tampered day: exit %d, want %d naming the mismatch\n%s", code, exitFailure, errOut)
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("export left the tampered file behind")
	}
	if code, _, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...); code != exitFailure {
		t.Fatalf("export to stdout of a tampered day: exit %d, want %d\n%s", code, exitFailure, errOut)
	}
	reliability.Record(t, "security", "export of a day whose stored object was replaced by other valid records (CLI)", reliability.CleanFailure,
		"exit 1: the JSONL's SHA-256 does not match its manifest; no -o file is left")
}
