//go:build unix

package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRootRefusesAnotherUsersStore: `sudo chatvault run --date …` on a folder store that
// chatvault.service's user owns. Root may write anywhere, so every object and folder the
// run made was root's, mode 0400/0700: the service's user could no longer read the day,
// nor take the seal lease ("permission denied" on leases/…), until someone chowned the
// tree back. A writable store opened by root on a root another user owns is refused
// before anything is written, naming the owner; reading (Open) is still allowed.
func TestRootRefusesAnotherUsersStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The store belongs to uid 4242 and this process is root: really so when the test
	// runs as root, played through geteuid otherwise.
	owner := 4242
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, owner, owner); err != nil {
			t.Fatal(err)
		}
	} else {
		owner = os.Geteuid()
		defer func(f func() int) { geteuid = f }(geteuid)
		geteuid = func() int { return 0 }
	}

	s, err := New(dir)
	if err == nil {
		b := []byte("x")
		werr := s.Create(context.Background(), "leases/x.json", bytes.NewReader(b), 1, sha256.Sum256(b), archiver.CreateOptions{})
		s.Close()
		t.Fatalf("New as root on a store of uid %d succeeded (Create: %v): what it writes is root's, unreadable to the store's owner", owner, werr)
	}
	if !errors.Is(err, ErrNotOwner) || !strings.Contains(err.Error(), "uid") {
		t.Fatalf("error %v, want ErrNotOwner naming the owner's uid", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("wrote %d entries into the refused store", len(entries))
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatalf("read-only Open as root: %v", err)
	}
	r.Close()
	reliability.Record(t, "operations", "a folder store owned by the service's user written by root (sudo chatvault run)", reliability.Refused,
		"exit 2 before anything is written, naming the store's owner (run as that user); root's objects and folders (0400/0700) had left the service unable to read the day or take the seal lease; reading commands still run as root")
}
