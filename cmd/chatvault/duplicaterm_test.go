package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRerunAfterDuplicateRemoved pins what a rerun of a sealed day does when one of two
// copies of a line is removed from its partition (reported as committing revision 2):
// the records are the same, so the export is the same, and every organization is
// unchanged, as long as the lines the day quarantined keep their places. (The run still
// exits 3: the partition it read differs, one line fewer, so it names the day's
// quarantine in a new accounting object; an identical rerun exits 0.) The sample's two m-001
// lines differ only in their line ending (line 24 ends in CRLF) and collapse into one
// record; removing either, or an exact copy appended after every quarantined line, leaves
// the export alone. Removing line 1 moves every quarantined line of the file up by one:
// Acme's quarantine object records each bad line's file and line, so its quarantine
// differs, and that makes a new revision by design (archiver's storeChange: what is
// served is on record), with the same export (same JSONL SHA-256) and nothing dropped.
func TestRerunAfterDuplicateRemoved(t *testing.T) {
	cleanEnv(t)
	const part = "part-0001.jsonl"
	for _, tc := range []struct {
		name    string
		prepare func(lines []string) []string // the partition of the first seal
		remove  int                           // the line (1-based) removed before the rerun; 0: the last
		want    map[string]string             // org name -> outcome of the rerun
		exit    int
	}{
		{"exact copy appended, then removed", func(l []string) []string { return append(l, l[0]) }, 0,
			map[string]string{"Acme": "unchanged", "Globex": "unchanged"}, exitQuarantined},
		{"CRLF copy of m-001 (line 24) removed", nil, 24,
			map[string]string{"Acme": "unchanged", "Globex": "unchanged"}, exitQuarantined},
		{"m-001 (line 1) removed, quarantined lines move up", nil, 1,
			map[string]string{"Acme": "committed", "Globex": "unchanged"}, exitQuarantined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := samplePartition(t)
			file := filepath.Join(logDir, "2026-11-22", part)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(b), "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			if tc.prepare != nil {
				lines = tc.prepare(lines)
			}
			if err := os.WriteFile(file, []byte(strings.Join(lines, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			store := t.TempDir()
			args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store}
			if code, out, errOut := chatvault(t, args...); code != exitQuarantined {
				t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
			}
			exports := exportSums(t, store)
			i := tc.remove - 1
			if tc.remove == 0 {
				i = len(lines) - 1
			}
			if !strings.Contains(lines[i], `"m-001"`) {
				t.Fatalf("line %d is not an m-001 line: %s", i+1, lines[i])
			}
			lines = append(lines[:i:i], lines[i+1:]...)
			if err := os.WriteFile(file, []byte(strings.Join(lines, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := chatvault(t, args...)
			if code != tc.exit {
				t.Errorf("rerun: exit %d, want %d\n%s%s", code, tc.exit, out, errOut)
			}
			for org, want := range tc.want {
				m := regexp.MustCompile(`(?m)^\s+\S+\s+` + org + `\s+(\S+)\s+(\d+)`).FindStringSubmatch(out)
				if m == nil || m[1] != want {
					t.Errorf("rerun: %s %v, want %s\n%s", org, m, want, out)
				}
			}
			// Every revision holds the same export: no record lost or added.
			if got := exportSums(t, store); !sameSet(got, exports) {
				t.Errorf("export objects after the rerun %v, want the first run's %v", got, exports)
			}
		})
	}
	reliability.Record(t, "input", "one of two copies of an event line removed from a sealed day's partition, rerun", reliability.Kept,
		"the same records: every organization unchanged when the quarantined lines keep their places; when they move (a line above them removed) the organization's quarantine, which records each bad line's file and line, makes revision 2 with the same export")
}

// exportSums lists the export objects (named by their SHA-256) of a folder store.
func exportSums(t *testing.T, store string) []string {
	t.Helper()
	var out []string
	for _, f := range storeFiles(t, store) {
		if strings.Contains(f, ".events-") {
			out = append(out, f)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
