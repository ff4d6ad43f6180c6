//go:build unix

package fsstore_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// otherGroup returns a group this process may give files to, other than its own primary
// group when it can: any group for root, else a supplementary one.
func otherGroup(t *testing.T) int {
	if os.Geteuid() == 0 {
		return 4242
	}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		if g != os.Getegid() {
			return g
		}
	}
	return os.Getegid()
}

// TestPermissionsOwnerOnly: the archive is nobody else's business on a shared host. Every
// object is readable by the owner only (0400), every folder reachable by the owner only
// (0700), whatever the process's umask; with a group, the group may read (0440, 0750) and
// owns every file and folder. A store made by an older version (0755) is closed at its
// root, which no one can then traverse.
func TestPermissionsOwnerOnly(t *testing.T) {
	gid := otherGroup(t)
	for _, tc := range []struct {
		name          string
		umask         int
		group         bool
		file, dir     fs.FileMode
		existingRoot  bool
		wantGroupOwns bool
	}{
		{"umask 000", 0o000, false, 0o400, 0o700, false, false},
		{"umask 022", 0o022, false, 0o400, 0o700, false, false},
		{"umask 077 with a group", 0o077, true, 0o440, 0o750, false, true},
		{"umask 000 with a group", 0o000, true, 0o440, 0o750, false, true},
		{"existing world-readable root", 0o022, false, 0o400, 0o700, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			dir := filepath.Join(t.TempDir(), "archive")
			if tc.existingRoot {
				if err := os.Mkdir(dir, 0o777); err != nil {
					t.Fatal(err)
				}
				os.Chmod(dir, 0o755)
			}
			var opt fsstore.Options
			if tc.group {
				opt.Group = fsstore.Group(gid)
			}
			s, err := fsstore.NewWithOptions(dir, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, key := range []string{"orgs/o/days/2026-11-22/events.jsonl.gz", "orgs/o/manifests/1.json", "quarantine/q", "top"} {
				create(t, s, key, []byte("sealed "+key))
			}
			var seen []string
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := os.Lstat(p)
				if err != nil {
					return err
				}
				want := tc.file
				if fi.IsDir() {
					want = tc.dir
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if tc.wantGroupOwns && int(st.Gid) != gid {
					t.Errorf("%s: group %d, want %d", p, st.Gid, gid)
				}
				seen = append(seen, p)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(seen, filepath.Join(dir, "orgs", "o", "days")) {
				t.Fatalf("walked %v", seen)
			}
		})
	}
	reliability.Record(t, "security", "folder store on a shared host (umask 000 to 077)", reliability.Refused,
		"objects 0400, folders 0700 (0440/0750 and group-owned with fs.group); an older world-readable root is closed")
}
