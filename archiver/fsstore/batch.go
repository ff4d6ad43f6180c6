package fsstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"path"
	"path/filepath"
	"slices"
	"sync"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
)

var _ archiver.Batcher = (*Store)(nil)

// NewBatch implements archiver.Batcher.
//
// An object created into the batch is written to its temporary file, checked, and its
// write-back to the disk started (sync_file_range), but neither synced nor linked to its
// key. Flush then syncs the whole file system once (syncfs), which makes every batched
// file's bytes durable, links each to its key, and syncs once more, which makes the names
// durable. A crash before the first sync leaves only temporary files; one between the two
// leaves some keys linked, each to bytes that were synced before it; never a key whose bytes
// were not all written. Two syncs a batch instead of one per object and one per folder: a
// seal of a day of 50,000 organizations made some 500,000 fsyncs.
//
// Where syncfs is missing (not Linux) a batched create is an ordinary, durable one.
func (s *Store) NewBatch() archiver.Batch { return &batch{s: s} }

// batch is the folder store's archiver.Batch.
type batch struct {
	s       *Store
	mu      sync.Mutex
	pending []pendingObject
	// found are the keys of the batch's creates that found their object already there (a
	// rerun after a crash in a flush): their names may not be durable yet, so Flush syncs.
	found   []string
	flushed bool
	// owned is set once the batch holds the Store's owner file (temps.go) for itself, from
	// its first found object until Flush or Abort: a rerun whose exports are all there
	// already then takes the owner file once, not once per export (a stream object's
	// temporary file holds it until it is aborted).
	owned bool
}

// pendingObject is an object written to its temporary file, to be linked to key by Flush.
// A day of 50,000 organizations holds some 100,000 of them: the temporary file's name is
// not kept but made again from the key's folder and seq (createTemp), and the key's string
// is the caller's, so each costs 24 bytes.
type pendingObject struct {
	key string
	seq uint64
}

// batchOf returns the Store's batch opt names, nil for an ordinary create, and nil too
// where a batch cannot sync at once (not Linux).
func (s *Store) batchOf(opt archiver.CreateOptions) (*batch, error) {
	if opt.Batch == nil || !canSyncFS {
		return nil, nil
	}
	b, ok := opt.Batch.(*batch)
	if !ok || b.s != s {
		return nil, errors.New("the create's batch is not this store's")
	}
	return b, nil
}

// foundExisting notes a create that found its object (key) already there.
func (b *batch) foundExisting(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.found = append(b.found, key)
	if !b.owned && !b.flushed && b.s.acquireOwner() == nil { // else only a saving lost
		b.owned = true
	}
}

// disown lets the batch's own hold on the owner file go (Flush, Abort).
func (b *batch) disown() {
	b.mu.Lock()
	owned := b.owned
	b.owned = false
	b.mu.Unlock()
	if owned {
		b.s.releaseOwner()
	}
}

// add records the object whose temporary file seq (in key's folder) holds its bytes.
func (b *batch) add(key string, seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.flushed {
		tmp := b.s.tempName(path.Dir(key), seq)
		if err := b.s.removeTemp(tmp); err != nil {
			return fmt.Errorf("create after the batch was flushed, and remove temporary file: %w", err)
		}
		return errors.New("create after the batch was flushed")
	}
	b.pending = append(b.pending, pendingObject{key: key, seq: seq})
	b.s.note("write", key)
	return nil
}

// Flush implements archiver.Batch.
func (b *batch) Flush(ctx context.Context) (map[string]error, error) {
	defer b.disown()
	b.mu.Lock()
	pending, found := b.pending, b.found
	b.pending, b.flushed = nil, true
	b.mu.Unlock()
	s := b.s
	if len(pending) == 0 {
		if len(found) == 0 {
			return nil, nil
		}
		// Only objects a crashed run linked: their names are synced, as Create would.
		fss, err := s.fileSystems(slices.Values(found))
		if err == nil {
			err = s.syncFS(fss)
		}
		if err != nil {
			return nil, fmt.Errorf("fsstore: flush: %w", err)
		}
		return nil, nil
	}
	// Before the first sync nothing is linked: a failure leaves no key, and the temporary
	// files go.
	dropAll := func(err error) (map[string]error, error) {
		return nil, fmt.Errorf("fsstore: flush %d objects: %w", len(pending), errors.Join(err, s.removeTemps(pending)))
	}
	if err := ctx.Err(); err != nil {
		return dropAll(err)
	}
	if err := s.checkHome(); err != nil {
		return dropAll(err)
	}
	keys := func(yield func(string) bool) {
		for _, p := range pending {
			if !yield(p.key) {
				return
			}
		}
		for _, k := range found {
			if !yield(k) {
				return
			}
		}
	}
	fss, err := s.fileSystems(keys)
	if err != nil {
		return dropAll(err)
	}
	if err := s.syncFS(fss); err != nil {
		return dropAll(err)
	}
	crashpoint.Hit("fsstore.flush.synced")
	var failed map[string]error
	dirs := make(map[string]struct{}, len(pending))
	for _, p := range pending {
		if err := s.link(ctx, p); err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[p.key] = fmt.Errorf("fsstore: create %s: %w", p.key, err)
		} else {
			dirs[path.Dir(p.key)] = struct{}{} // a substring of the key: no copy
		}
		crashpoint.Hit("fsstore.flush.link")
	}
	if err := s.syncFS(fss); err != nil {
		return failed, fmt.Errorf("fsstore: flush %d objects: linked, but: %w", len(pending), err)
	}
	// The folders synced with their names: a create in one of them (the day's manifest)
	// then syncs only its file and that folder.
	s.durable.setFlushed(dirs)
	return failed, nil
}

// Abort implements archiver.Batch.
func (b *batch) Abort() error {
	defer b.disown()
	b.mu.Lock()
	pending := b.pending
	b.pending, b.flushed = nil, true
	b.mu.Unlock()
	if err := b.s.removeTemps(pending); err != nil {
		return fmt.Errorf("fsstore: abort %d objects: %w", len(pending), err)
	}
	return nil
}

// removeTemps removes the temporary files of objects never linked.
func (s *Store) removeTemps(pending []pendingObject) error {
	var err error
	for _, p := range pending {
		if rerr := s.removeTemp(s.tempName(path.Dir(p.key), p.seq)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove temporary file: %w", rerr))
		}
	}
	return err
}

// link gives the synced temporary file of p its key, as Create does after its own sync:
// another writer's object already there must hold the same bytes.
func (s *Store) link(ctx context.Context, p pendingObject) error {
	tmp := s.tempName(path.Dir(p.key), p.seq)
	linkErr := s.root.Link(tmp, filepath.FromSlash(p.key))
	if linkErr == nil {
		s.note("link", p.key)
	}
	var cmpErr error
	if errors.Is(linkErr, fs.ErrExist) {
		cmpErr = s.sameAs(ctx, p.key, tmp)
	}
	if err := s.removeTemp(tmp); err != nil {
		return errors.Join(linkErr, fmt.Errorf("remove temporary file: %w", err))
	}
	switch {
	case errors.Is(linkErr, fs.ErrExist):
		return cmpErr
	case linkErr != nil:
		return fmt.Errorf("link object: %w", linkErr)
	}
	return nil
}

// sameAs compares the object at key with the temporary file tmp (size and SHA-256): an
// error wrapping archiver.ErrConflict when they differ.
func (s *Store) sameAs(ctx context.Context, key, tmp string) error {
	f, err := s.root.Open(tmp)
	if err != nil {
		return fmt.Errorf("read temporary file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := copyContext(ctx, h, f)
	if err != nil {
		return fmt.Errorf("hash temporary file: %w", err)
	}
	return s.compare(ctx, key, n, [sha256.Size]byte(h.Sum(nil)))
}

// fileSystems returns one folder on each file system that holds the folder of one of keys
// or a folder above it, the root (".") first: what a batch's syncs must cover. Most stores
// are one file system, and get ["."]; but a syncfs syncs only the file system it is given,
// and an operator may mount another disk inside the store (orgs/ on a bigger volume), whose
// files the root's syncfs would leave unsynced while their keys were linked.
func (s *Store) fileSystems(keys iter.Seq[string]) ([]string, error) {
	rootDev, err := s.device(s.root, ".")
	if err != nil {
		return nil, fmt.Errorf("sync file system: %w", err)
	}
	out := []string{"."}
	devs := map[uint64]bool{rootDev: true}
	seen := map[string]bool{}
	for key := range keys {
		// Up from the key's folder, to the first folder already looked at.
		for dir := path.Dir(key); dir != "." && dir != "/" && !seen[dir]; dir = path.Dir(dir) {
			seen[dir] = true
			dev, err := s.device(s.root, filepath.FromSlash(dir))
			if err != nil {
				return nil, fmt.Errorf("sync file system: %w", err)
			}
			if !devs[dev] {
				devs[dev] = true
				out = append(out, dir)
			}
		}
	}
	return out, nil
}

// syncFS syncs the file systems of dirs (fileSystems), each with one syncfs.
func (s *Store) syncFS(dirs []string) error {
	for _, dir := range dirs {
		if err := s.syncFSOf(dir); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) syncFSOf(dir string) error {
	s.syncs.Add(1)
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return fmt.Errorf("sync file system: %w", err)
	}
	defer d.Close()
	if err := syncFS(d); err != nil {
		return fmt.Errorf("sync file system of %s: %w", dir, err)
	}
	if dir == "." {
		dir = ""
	}
	s.note("syncfs", dir)
	return nil
}

// note tells the test's trace of a batch's steps.
func (s *Store) note(op, name string) {
	if s.trace != nil {
		s.trace(op, name)
	}
}

// newToken is a Store's random part of its temporary files' names.
func newToken() string { return rand.Text()[:16] }
