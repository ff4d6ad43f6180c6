package scheduler

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLeaseAfterTheStoreWasRestored: serve's scheduler holds the store's lease and renews
// it (links 1 and 2), and the operator restores the folder store from a backup taken
// before (rsync -a --delete backup/ store/): the links written since are gone. The
// process remembered its last link's key to list from (leaseHints), read it, and failed
// with "lease: fsstore: open …/000000000002.json: object not found" at every tick until
// a restart, so the days the backup lacked were never sealed again, though the README
// says they are at the next tick. A remembered link that is gone is forgotten, and the
// lease is looked up afresh in the restored chain.
func TestLeaseAfterTheStoreWasRestored(t *testing.T) {
	t0 := time.Date(2027, 3, 5, 3, 0, 0, 0, time.UTC)
	s := newLeaseStore(t)
	clock := NewFakeClock(t0)
	l := &Lease{Store: s, Holder: "serve-a", TTL: 2 * time.Minute, Clock: clock}
	if err := l.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	root := s.(interface{ Dir() string }).Dir()
	backup := map[string]bool{}
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		backup[p] = true
		return err
	}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	if err := l.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	if err := l.Acquire(t.Context()); err != nil { // a renewal
		t.Fatal(err)
	}
	// The restore: every file written since the backup is gone.
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !backup[p] {
			return os.Remove(p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Mid-tick, the renewal finds its own link gone: the lease is lost (the tick's fence
	// stops its commits), not an error about a missing object for ever.
	clock.Add(time.Minute)
	if err := l.Acquire(t.Context()); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renewal after the store was restored from an older backup: %v; want ErrLeaseLost", err)
	}
	if err := l.Release(t.Context()); err != nil { // the tick ends
		t.Fatalf("Release after the restore: %v", err)
	}
	// The next tick takes the lease of the restored chain.
	if err := l.Acquire(t.Context()); err != nil {
		t.Fatalf("Acquire after the store was restored from an older backup: %v; want the lease taken again (the restored chain's last link is released)", err)
	}
	if err := l.Fence(t.Context()); err != nil {
		t.Fatalf("the fence after the lease was taken again: %v", err)
	}
	other := &Lease{Store: &storeHandle{s}, Holder: "serve-b", TTL: 2 * time.Minute, Clock: clock}
	if err := other.Acquire(t.Context()); err == nil {
		t.Fatal("another replica took the lease the restored store's holder holds")
	}
	reliability.Record(t, "operations", "folder store restored in place from an older backup (rsync --delete) while serve holds the scheduler's lease", reliability.Recovered,
		"the remembered last lease link, gone with the restore, is forgotten and the restored chain's last link read: the next tick takes the lease and seals the days the backup lacks; before, every tick failed 'lease: … object not found' until a restart")
}
