package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHostileDirectory runs `chatvault run` on the sample day with a directory snapshot
// that is missing, malformed or inconsistent. A snapshot chatvault cannot trust fails the
// run before any day is sealed, with a message naming the file and exit 1; one whose chat
// lists a member that is no user seals as usual, since such a member (a guest, a deleted
// account) makes no organization entitled to the chat.
func TestHostileDirectory(t *testing.T) {
	cleanEnv(t)
	sample, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// edit decodes the sample directory, lets fn change it and encodes it again.
	edit := func(fn func(d map[string]any)) []byte {
		var d map[string]any
		if err := json.Unmarshal(sample, &d); err != nil {
			t.Fatal(err)
		}
		fn(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		directory []byte // nil: no directory.json
		outcome   reliability.Outcome
		want      []string // on stderr, besides the file's path
		detail    string   // Kept; failures record their message
	}{
		{"directory.json missing", nil, reliability.CleanFailure, []string{"no such file"}, ""},
		{"directory.json malformed (truncated)", sample[:len(sample)/2], reliability.CleanFailure, []string{"unexpected EOF"}, ""},
		{"directory.json not JSON", []byte("organizations: []\n"), reliability.CleanFailure, []string{"invalid character"}, ""},
		{"directory.json user of an unknown organization", edit(func(d map[string]any) {
			u := d["users"].([]any)[0].(map[string]any)
			u["orgId"] = "no-such-org"
		}), reliability.CleanFailure, []string{`users[0] ("u-ada").orgId: unknown organization "no-such-org"`}, ""},
		{"directory.json chat member that is no user", edit(func(d map[string]any) {
			for _, c := range d["chats"].([]any) {
				c := c.(map[string]any)
				c["members"] = append(c["members"].([]any), "u-nobody")
			}
		}), reliability.Kept, nil,
			"the member entitles no organization (a guest or a deleted account); the day seals as without it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := t.TempDir()
			if err := os.CopyFS(filepath.Join(logDir, "2026-11-22"), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(logDir, "directory.json")
			if tt.directory != nil {
				if err := os.WriteFile(path, tt.directory, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			store := t.TempDir()
			// Text logs: the error line is recorded as the row's detail, which JSON's time
			// field would change at every run.
			common := []string{"--eventlog", logDir, "--store", store, "--log-format", "text"}
			code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
			if tt.outcome == reliability.Kept {
				// The sample's bad records make it exit 3, as without the stray member.
				if code != exitQuarantined || !strings.Contains(out, "29 events read, 13 exported, 5 excluded, 2 duplicates, 9 quarantined") {
					t.Fatalf("run exit %d:\n%s%s", code, out, errOut)
				}
				code, export, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...)
				if code != exitOK || export != string(golden) {
					t.Fatalf("export exit %d (%s): Acme's export differs from the golden one", code, errOut)
				}
				reliability.Record(t, "input", tt.name, tt.outcome, tt.detail)
				return
			}
			if code != exitFailure {
				t.Fatalf("run exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
			}
			for _, want := range append([]string{path}, tt.want...) {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q does not name %q", errOut, want)
				}
			}
			if strings.Contains(out, "sealed") {
				t.Errorf("a day was sealed:\n%s", out)
			}
			entries, err := os.ReadDir(store)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				// The folder store may keep its own bookkeeping; no export, manifest or
				// quarantine may exist.
				if e.Name() == "orgs" || e.Name() == "quarantine" {
					t.Errorf("the failed run committed %s", e.Name())
				}
			}
			reliability.Record(t, "input", tt.name, tt.outcome, "exit 1 before sealing: "+strings.ReplaceAll(strings.TrimSpace(errOut), logDir, "<eventlog>"))
		})
	}
}
