package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Temporary files a writer left behind (a seal killed between its batched creates and its
// Flush leaves one per batched object, a whole day's exports) are found and removed here,
// but only those of writers that are gone: another process may be sealing another shard or
// day, serving the access audit, or running an export task into the same folder, and its
// batch may stay pending for as long as its seal runs, so neither a file's age nor a lease
// tells a dead writer's file from a live one's.
//
// What does tell them apart is a lock the writer holds: while a Store has temporary files
// that outlive a call (a batch's, a stream object's; createTemp) it has its owner file ".tmp-<token>" at the root, named by the token that is in the name
// of every temporary file it makes, locked (flock, exclusive). The kernel releases the
// lock when the process dies, however it dies (SIGKILL, the OOM killer; a power cut takes
// every lock with it), and a live writer's owner file is never at its name unlocked
// (acquireOwner), so a temporary file whose owner file is there but not locked belongs to
// a writer that is gone, and its token, random per Store, is never used again: nothing
// will ever link it. The lock guards the
// processes of one host and of hosts sharing the folder over a file system whose locks
// they share (NFSv4 does; a mount with local_lock=flock or nolock does not).
//
// A temporary file without an owner file was made by a version before owner files (or on
// a system without flock; or a power cut before a batch's first sync lost the owner file's
// name with the rest): its writer cannot be told, so it is stale only once it has not
// been written for staleWithoutOwner, far longer than any seal keeps its batch pending.
// (An owner file is otherwise missing when the file is an ordinary Create's, which lives
// for the call only (createTemp), or its writer closed its Store, or an earlier sweep found
// its writer gone: such files are judged by their age too, which errs on the side of
// keeping them.)

// staleWithoutOwner is how long a temporary file whose writer cannot be told (no owner file)
// must have gone unwritten before it counts as stale. A batch is pending for one seal of
// one day (minutes: the 50,000-organization day takes under three), and a stream object
// is written as it goes; a week leaves room for any seal, however slow its disk.
const staleWithoutOwner = 7 * 24 * time.Hour

// ownerState is what a temporary file's owner file says of its writer.
type ownerState int

const (
	ownerLive    ownerState = iota // locked: the writer is running (or cannot be told apart from one)
	ownerGone                      // there, unlocked: the writer is gone
	ownerUnknown                   // no owner file: judged by the file's age
)

// owner is the Store's owner file, held locked while the Store has owned temporary files
// (createTemp): from the creation of the first until the last is linked or removed. So it
// is there while a seal's batch is pending (once per seal), and a store at rest holds none.
type owner struct {
	mu sync.Mutex
	f  *os.File
	n  int // the Store's temporary files not yet linked or removed
}

// ownerName is the owner file of token, at the root.
func ownerName(token string) string { return tempPrefix + token }

// acquireOwner is called before each owned temporary file is created: the first one of a
// while creates and locks the owner file, so a sweep that finds any of the Store's
// temporary files finds its owner file locked.
//
// The file is created and locked under a temporary file's name, then renamed to its own:
// it is never at its name unlocked while its writer lives (Close and releaseOwner remove
// the name before the lock goes), so a sweep that finds it unlocked has found a dead
// writer's, for good.
func (s *Store) acquireOwner() error {
	if !canLock {
		return nil
	}
	s.owner.mu.Lock()
	defer s.owner.mu.Unlock()
	if s.owner.n > 0 {
		s.owner.n++
		return nil
	}
	tmp := s.tempName(".", s.seq.Add(1))
	f, err := s.root.OpenFile(tmp, os.O_RDONLY|os.O_CREATE|os.O_EXCL, tempMode)
	if err != nil {
		return fmt.Errorf("create owner file of temporary files: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		s.root.Remove(tmp)
		return fmt.Errorf("create owner file of temporary files: %w", err)
	}
	if err := lockExclusive(f); err != nil {
		return fail(err)
	}
	// Readable by whoever may read the objects (a sweep by another user's verify).
	if s.perm.group {
		if err := f.Chown(-1, s.perm.gid); err != nil {
			return fail(fmt.Errorf("give it to group %d: %w", s.perm.gid, err))
		}
	}
	if err := f.Chmod(s.perm.objectMode()); err != nil {
		return fail(err)
	}
	if err := s.root.Rename(tmp, ownerName(s.token)); err != nil {
		return fail(err)
	}
	s.owner.f, s.owner.n = f, 1
	return nil
}

// releaseOwner is called once an owned temporary file is removed: after the last, the
// owner file is removed, then its lock let go.
func (s *Store) releaseOwner() {
	if !canLock {
		return
	}
	s.owner.mu.Lock()
	defer s.owner.mu.Unlock()
	if s.owner.n == 0 {
		return
	}
	if s.owner.n--; s.owner.n == 0 {
		s.dropOwner()
	}
}

// closeOwner removes the owner file however many temporary files are left (Close): a
// batch neither flushed nor aborted is then judged by its age.
func (s *Store) closeOwner() error {
	s.owner.mu.Lock()
	defer s.owner.mu.Unlock()
	s.owner.n = 0
	return s.dropOwner()
}

// dropOwner removes the owner file, then lets its lock go; s.owner.mu is held. A file it
// cannot remove stays locked until the Store is closed or the process ends, then reads
// as a dead writer's, whose files are gone: harmless.
func (s *Store) dropOwner() error {
	if s.owner.f == nil {
		return nil
	}
	err := s.root.Remove(ownerName(s.token))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	s.owner.f.Close()
	s.owner.f = nil
	if err != nil {
		return fmt.Errorf("remove owner file of temporary files: %w", err)
	}
	return nil
}

// removeTemp removes the owned temporary file name (createTemp), and lets the owner file go
// after the last one.
func (s *Store) removeTemp(name string) error {
	err := s.root.Remove(name)
	s.releaseOwner()
	return err
}

// ownerOf asks token's owner file whether its writer is alive.
func (s *Store) ownerOf(token string) ownerState {
	if token == s.token {
		return ownerLive
	}
	if !canLock {
		return ownerUnknown
	}
	f, err := s.root.Open(ownerName(token))
	if errors.Is(err, fs.ErrNotExist) {
		return ownerUnknown
	}
	if err != nil {
		return ownerLive // cannot tell: keep its files
	}
	defer f.Close()
	if ok, err := tryLockShared(f); err != nil || !ok {
		return ownerLive
	}
	return ownerGone // closing f lets the shared lock go
}

// parseTemp splits a temporary file's name into its writer's token and whether it is an
// owner file. ok is false for a name that is not one this package makes (a writer of an
// older version, another program): its writer cannot be told.
func parseTemp(name string) (token string, isOwner, ok bool) {
	rest, found := strings.CutPrefix(name, tempPrefix)
	if !found || len(rest) < tokenLen {
		return "", false, false
	}
	token, rest = rest[:tokenLen], rest[tokenLen:]
	if strings.ContainsAny(token, "./") {
		return "", false, false
	}
	if rest == "" {
		return token, true, true
	}
	seq, found := strings.CutPrefix(rest, ".")
	if _, err := strconv.ParseUint(seq, 36, 64); !found || err != nil {
		return "", false, false
	}
	return token, false, true
}

// tokenLen is the length of a Store's token (newToken).
const tokenLen = 16

// Temporaries counts the temporary files below a folder of the store (TemporariesBelow).
type Temporaries struct {
	// Files and Bytes are every temporary file found and their sizes.
	Files int
	Bytes int64
	// Stale and StaleBytes are those of writers that are gone (or, with no owner file,
	// unwritten for staleWithoutOwner): nothing will link them.
	Stale      int
	StaleBytes int64
	// Unknown and UnknownBytes are those without an owner file not yet that old.
	Unknown      int
	UnknownBytes int64
	// Removed and RemovedBytes are the stale ones removed (remove set).
	Removed      int
	RemovedBytes int64
}

// TemporariesBelow finds the temporary files below dir (a slash-separated folder, "." for
// the whole store) and tells those of writers that are gone (see above); with remove, it
// removes those, and, for the whole store, the owner files of writers that are gone. A
// temporary file of a live writer is never removed: its batch may still link it. The walk
// holds one folder's names at a time per level and stats each entry (folder or not): a
// fraction of what verifying the same objects costs, which reads them all.
func (s *Store) TemporariesBelow(ctx context.Context, dir string, remove bool) (Temporaries, error) {
	var t Temporaries
	if remove && s.readOnly {
		return t, fmt.Errorf("fsstore: remove temporary files: %w", ErrReadOnly)
	}
	if dir != "." {
		if err := checkKey(dir); err != nil {
			return t, fmt.Errorf("fsstore: temporary files below %s: %w", dir, err)
		}
	}
	if err := s.checkHome(); err != nil {
		return t, fmt.Errorf("fsstore: temporary files below %s: %w", dir, err)
	}
	sw := &sweep{s: s, remove: remove, now: time.Now(), owners: map[string]ownerState{}, t: &t}
	if err := sw.folder(ctx, dir); err != nil {
		return t, fmt.Errorf("fsstore: temporary files below %s: %w", dir, err)
	}
	if remove && dir == "." {
		if err := sw.removeOwners(); err != nil {
			return t, fmt.Errorf("fsstore: temporary files: %w", err)
		}
	}
	return t, nil
}

// sweep is one walk of TemporariesBelow.
type sweep struct {
	s      *Store
	remove bool
	now    time.Time
	// owners caches the tokens found gone, which is for good; a live writer's owner file
	// comes and goes with its temporary files, so it is asked again each time.
	owners map[string]ownerState
	// ownerFiles are the owner files found at the root.
	ownerFiles []string
	t          *Temporaries
}

func (sw *sweep) folder(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := sw.s.root.Open(filepath.FromSlash(dir))
	if notExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open folder %s: %w", dir, err)
	}
	var subs []string
	for {
		names, err := d.Readdirnames(readDirBatch)
		if err == io.EOF {
			break
		}
		if err != nil {
			d.Close()
			return fmt.Errorf("read folder %s: %w", dir, err)
		}
		for _, name := range names {
			p := path.Join(dir, name)
			fi, err := sw.s.root.Lstat(filepath.FromSlash(p))
			if notExist(err) {
				continue // linked or removed since
			}
			if err != nil {
				d.Close()
				return fmt.Errorf("%s: %w", p, err)
			}
			switch {
			case fi.IsDir():
				subs = append(subs, p)
			case fi.Mode().IsRegular() && strings.HasPrefix(name, tempPrefix):
				if err := sw.file(p, name, fi, dir == "."); err != nil {
					d.Close()
					return err
				}
			}
		}
		if len(names) < readDirBatch {
			break
		}
	}
	d.Close()
	for _, sub := range subs {
		if err := sw.folder(ctx, sub); err != nil {
			return err
		}
	}
	return nil
}

// file counts, and maybe removes, the temporary file p.
func (sw *sweep) file(p, name string, fi fs.FileInfo, atRoot bool) error {
	token, isOwner, ok := parseTemp(name)
	if isOwner {
		if atRoot {
			sw.ownerFiles = append(sw.ownerFiles, name)
		}
		return nil
	}
	state := ownerUnknown
	if ok {
		st, seen := sw.owners[token]
		if !seen {
			st = sw.s.ownerOf(token)
			if st == ownerGone {
				sw.owners[token] = st // for good: the token is never used again
			}
		}
		state = st
	}
	if state != ownerLive {
		// Linked and removed since it was listed, by a writer that then let its owner file
		// go (its last temporary file): not one left behind.
		if _, err := sw.s.root.Lstat(filepath.FromSlash(p)); notExist(err) {
			return nil
		}
	}
	t := sw.t
	t.Files++
	t.Bytes += fi.Size()
	stale := state == ownerGone || (state == ownerUnknown && sw.now.Sub(fi.ModTime()) > staleWithoutOwner)
	switch {
	case stale:
		t.Stale++
		t.StaleBytes += fi.Size()
	case state == ownerUnknown:
		t.Unknown++
		t.UnknownBytes += fi.Size()
	}
	if !stale || !sw.remove {
		return nil
	}
	if err := sw.s.root.Remove(filepath.FromSlash(p)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // another sweep's
		}
		return fmt.Errorf("remove stale temporary file %s: %w", p, err)
	}
	t.Removed++
	t.RemovedBytes += fi.Size()
	return nil
}

// removeOwners removes the owner files at the root whose writers are gone, after a sweep
// of the whole store removed their temporary files. A live writer's owner file is never
// at its name unlocked (acquireOwner), so none of theirs goes.
func (sw *sweep) removeOwners() error {
	for _, name := range sw.ownerFiles {
		token, _, _ := parseTemp(name)
		st, seen := sw.owners[token]
		if !seen {
			st = sw.s.ownerOf(token)
		}
		if st != ownerGone {
			continue
		}
		if err := sw.s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove owner file %s of a writer that is gone: %w", name, err)
		}
	}
	return nil
}
