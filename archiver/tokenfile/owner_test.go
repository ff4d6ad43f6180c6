//go:build unix

package tokenfile

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRootKeepsTheTokensFileOwner: `chatvault token create` run by root (sudo without
// -u chatvault) on the tokens file of serve's user. The file was replaced by root's own,
// mode 0600, and the lock file beside it created as root's: serve could no longer reload
// its tokens ("permission denied"), and the next `sudo -u chatvault chatvault token
// create` could not take the lock. Root's write keeps the file's owner and group, and a
// lock file it creates is given to the same user.
func TestRootKeepsTheTokensFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the file must belong to another user (CI runs as root)")
	}
	const uid, gid = 4242, 4343
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokens.json")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f, _ := Read(path)
	if _, _, err := f.Mint(rand.Reader, org, "first", []string{archiver.ScopeComplianceRead}, now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	if err := Update(path, func(f *File) error {
		_, _, err := f.Mint(rand.Reader, org, "by root", []string{archiver.ScopeComplianceRead}, now, time.Hour)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + LockSuffix} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s after root's token create: uid %d gid %d mode %v, want %d %d 0600: serve's user can no longer read it", filepath.Base(p), st.Uid, st.Gid, fi.Mode().Perm(), uid, gid)
		}
	}
	reliability.Record(t, "operations", "token create run as root on serve's tokens file (sudo without -u chatvault)", reliability.Kept,
		"the rewritten file and a lock file root creates keep the tokens file's owner and group (0600); the file had become root's and serve could no longer reload its tokens")
}
