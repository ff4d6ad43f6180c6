package fsstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
)

var _ archiver.StreamCreator = (*Store)(nil)

// CreateStream implements archiver.StreamCreator: the object is written to a temporary
// file in dir (named with tempPrefix, so never listed or opened as an object) and Commit
// links it to its key as Create does, after syncing it. A crash leaves the temporary file,
// as one in the middle of Create does.
func (s *Store) CreateStream(ctx context.Context, dir string) (archiver.StreamObject, error) {
	if s.readOnly {
		return nil, fmt.Errorf("fsstore: create %s/: %w", dir, ErrReadOnly)
	}
	if err := checkKey(dir); err != nil {
		return nil, fmt.Errorf("fsstore: create %s/: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.perm.mkdirAll(s.root, filepath.FromSlash(dir)); err != nil {
		return nil, fmt.Errorf("fsstore: create %s/: create folder: %w", dir, err)
	}
	f, tmp, seq, err := s.createTemp(dir, true)
	if err != nil {
		return nil, fmt.Errorf("fsstore: create %s/: %w", dir, err)
	}
	return &streamObject{s: s, dir: dir, f: f, tmp: tmp, seq: seq, w: crashpoint.Writer("fsstore.write", f)}, nil
}

// streamObject is a folder store object being written (CreateStream).
type streamObject struct {
	s    *Store
	dir  string
	f    *os.File // nil once committed or aborted
	tmp  string
	seq  uint64
	w    io.Writer
	n    int64
	werr error // the first write error: the file is then incomplete for good
}

func (o *streamObject) Write(p []byte) (int, error) {
	if o.f == nil {
		return 0, fmt.Errorf("fsstore: create %s/: write after commit or abort", o.dir)
	}
	if o.werr != nil {
		return 0, o.werr
	}
	n, err := o.w.Write(p)
	o.n += int64(n)
	if err != nil {
		o.werr = fmt.Errorf("fsstore: create %s/: write object: %w", o.dir, err)
		return n, o.werr
	}
	return n, nil
}

func (o *streamObject) ReadAt(p []byte, off int64) (int, error) {
	if o.f == nil {
		return 0, fmt.Errorf("fsstore: create %s/: read after commit or abort", o.dir)
	}
	return o.f.ReadAt(p, off)
}

func (o *streamObject) Commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	b, err := o.s.batchOf(opt)
	if err == nil {
		err = o.commit(ctx, key, size, sum, b)
	}
	if err != nil {
		return "", fmt.Errorf("fsstore: create %s: %w", key, err)
	}
	return "", nil
}

// commit links the object to key, durably unless b is set: then it is left to b's Flush.
func (o *streamObject) commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, b *batch) (err error) {
	if o.f == nil {
		return errors.New("commit after commit or abort")
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, o.Abort())
		}
	}()
	if err := o.s.checkHome(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	switch {
	case path.Dir(key) != o.dir:
		return fmt.Errorf("key is not in the folder %s/ the object was begun in", o.dir)
	case o.werr != nil:
		return o.werr
	case size != o.n:
		return fmt.Errorf("size %d given, %d bytes written", size, o.n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A rerun may find the object there already (it crashed after storing it, before the
	// manifest): the same bytes succeed, as with Create.
	switch err := o.s.compare(ctx, key, size, sum); {
	case err == nil:
		if b != nil {
			// Before the abort: the batch then holds the owner file the temporary file did.
			b.foundExisting(key) // the batch's last sync makes its name durable too
		}
		if err := o.Abort(); err != nil {
			return err
		}
		if b != nil {
			return nil
		}
		return o.s.syncDirs(o.dir)
	case !errors.Is(err, archiver.ErrNotFound):
		return err
	}
	f := o.f
	if o.s.perm.group {
		if err := f.Chown(-1, o.s.perm.gid); err != nil {
			return fmt.Errorf("give object to group %d (the process's user must be a member): %w", o.s.perm.gid, err)
		}
	}
	if err := f.Chmod(o.s.perm.objectMode()); err != nil {
		return fmt.Errorf("make object read-only: %w", err)
	}
	if err := o.s.settle(f, b == nil); err != nil {
		return err
	}
	o.f = nil
	if err := f.Close(); err != nil {
		return errors.Join(fmt.Errorf("close object: %w", err), o.remove())
	}
	if b != nil {
		o.tmp = "" // the batch's now
		return b.add(key, o.seq)
	}
	linkErr := o.s.root.Link(o.tmp, filepath.FromSlash(key))
	if err := o.remove(); err != nil {
		return errors.Join(linkErr, err)
	}
	switch {
	case errors.Is(linkErr, fs.ErrExist):
		// Another writer won the race with a complete, synced file.
		if err := o.s.compare(ctx, key, size, sum); err != nil {
			return err
		}
	case linkErr != nil:
		return fmt.Errorf("link object: %w", linkErr)
	}
	return o.s.syncDirs(o.dir)
}

// Abort implements archiver.StreamObject.
func (o *streamObject) Abort() error {
	if o.f == nil {
		return nil
	}
	f := o.f
	o.f = nil
	cerr := f.Close()
	if err := o.remove(); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("fsstore: create %s/: close temporary file: %w", o.dir, cerr)
	}
	return nil
}

// remove deletes the temporary file, once.
func (o *streamObject) remove() error {
	if o.tmp == "" {
		return nil
	}
	tmp := o.tmp
	o.tmp = ""
	if err := o.s.removeTemp(tmp); err != nil {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}
