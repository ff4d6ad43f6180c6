//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestFilesOwnerOnly: under the usual umask 022, what chatvault writes on the host (the
// folder store, export -o, export-task -o) is readable by its owner only, and with fs.group
// also by that group, which owns it.
func TestFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	gid := os.Getegid()
	if os.Geteuid() == 0 {
		gid = 4242
	}
	for _, tc := range []struct {
		name            string
		group           string
		file, dir, out  fs.FileMode
		wantGroupOwners bool
	}{
		{"owner only", "", 0o400, 0o700, 0o600, false},
		{"with fs.group", strconv.Itoa(gid), 0o440, 0o750, 0o640, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			if tc.group != "" {
				t.Setenv("CHATVAULT_FS_GROUP", tc.group)
			}
			store := filepath.Join(t.TempDir(), "archive")
			common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-level", "error", "--temp-dir", t.TempDir()}
			if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
				t.Fatalf("run exit %d: %s", code, errOut)
			}
			outDir := t.TempDir()
			exported := filepath.Join(outDir, "acme.jsonl")
			if code, _, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", exported}, common...)...); code != exitOK {
				t.Fatalf("export exit %d: %s", code, errOut)
			}
			task := filepath.Join(outDir, "task.jsonl.gz")
			if code, _, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "-o", task}, common...)...); code != exitOK {
				t.Fatalf("export-task exit %d: %s", code, errOut)
			}
			check := func(p string, want fs.FileMode) {
				t.Helper()
				fi, err := os.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
				if st := fi.Sys().(*syscall.Stat_t); tc.wantGroupOwners && int(st.Gid) != gid {
					t.Errorf("%s: group %d, want %d", p, st.Gid, gid)
				}
			}
			// The witness names every organization: as confidential as an export.
			witness := filepath.Join(outDir, "witness.json")
			if code, _, errOut := chatvault(t, append([]string{"witness", "-o", witness}, common...)...); code != exitOK {
				t.Fatalf("witness exit %d: %s", code, errOut)
			}
			check(exported, tc.out)
			check(task, tc.out)
			check(witness, tc.out)
			n := 0
			filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Fatal(err)
				}
				if d.IsDir() {
					check(p, tc.dir)
				} else {
					check(p, tc.file)
					n++
				}
				return nil
			})
			if n < 5 {
				t.Fatalf("the store holds %d files", n)
			}
		})
	}
	reliability.Record(t, "security", "files written on a shared host under umask 022", reliability.Refused,
		"store objects 0400, folders 0700, export -o, export-task -o and witness -o files 0600 (0440/0750/0640 with fs.group)")
}
