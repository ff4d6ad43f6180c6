package fsstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/crashpoint"
)

// tempMode is a file's mode while it is written. Objects then become read-only (a guard
// against other tools, on top of Create never opening an existing object for writing) and
// readable by the owner only, or also by the configured group (perm).
const tempMode fs.FileMode = 0o600

var _ archiver.Store = (*Store)(nil)

// Store is an archiver.Store in a local folder. It is safe for concurrent use, also by
// several processes sharing the folder.
type Store struct {
	root *os.Root
	perm perm
	// readOnly is set by Open: Create and Delete refuse, so a command that only reads the
	// archive cannot change it even by mistake.
	readOnly bool
	// syncs counts the fsyncs of files and folders (Syncs).
	syncs atomic.Int64
	// durable are the folders whose names are known to be durable (syncDirs).
	durable durableFolders
	// token and seq name temporary files (createTemp): token is random per Store, seq
	// counts. A batch remembers an object's temporary file by its seq alone.
	token string
	seq   atomic.Uint64
	// owner is the locked file that tells sweeps this Store's temporary files belong to a
	// live writer (temps.go).
	owner owner
	// trace, when set (tests only), is told each step a batch takes (batch.go).
	trace func(op, name string)
	// device returns the device of the file system a folder is on: deviceOf, or a test's
	// stand-in for a file system mounted inside the store.
	device func(root *os.Root, dir string) (uint64, error)
}

// Syncs returns how many fsyncs (of objects and folders) and syncfs (of batches) the Store
// has made: the cost of durability that tests and benchmarks count.
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// ErrReadOnly is returned (wrapped) by Create and Delete on a Store made by Open.
var ErrReadOnly = errors.New("store opened read-only")

// Open opens the existing folder dir as a read-only Store, for the commands that only read
// the archive (verify, status, export, audit, witness). Unlike New it never creates
// anything: a missing folder is an error wrapping fs.ErrNotExist, because a mistyped path
// must fail, not read as an empty archive. Close releases it.
func Open(dir string) (*Store, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("fsstore: open %s: not a folder", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", dir, err)
	}
	return &Store{root: root, readOnly: true, token: newToken(), device: deviceOf}, nil
}

// New opens the folder dir as a Store, creating it if it is missing, readable by its owner
// only (see NewWithOptions). Close releases it.
func New(dir string) (*Store, error) {
	return NewWithOptions(dir, Options{})
}

// Close releases the folder, and removes the Store's owner file (temps.go): a temporary
// file it still has (a batch neither flushed nor aborted) is then judged by its age. The
// Store must not be used afterwards.
func (s *Store) Close() error {
	oerr := s.closeOwner()
	if err := s.root.Close(); err != nil {
		return errors.Join(oerr, fmt.Errorf("fsstore: close root: %w", err))
	}
	if oerr != nil {
		return fmt.Errorf("fsstore: close: %w", oerr)
	}
	return nil
}

// Dir returns the folder the Store was opened on.
func (s *Store) Dir() string { return s.root.Name() }

// Create implements archiver.Store.
//
// A body longer than size is an error too, not silently cut: the caller's size and
// content disagree.
func (s *Store) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if s.readOnly {
		return fmt.Errorf("fsstore: create %s: %w", key, ErrReadOnly)
	}
	b, err := s.batchOf(opt)
	if err != nil {
		return fmt.Errorf("fsstore: create %s: %w", key, err)
	}
	if err := s.checkHome(); err != nil {
		return fmt.Errorf("fsstore: create %s: %w", key, err)
	}
	if err := s.create(ctx, key, body, size, sum, b); err != nil {
		return fmt.Errorf("fsstore: create %s: %w", key, err)
	}
	return nil
}

// create stores the object, durably unless b is set: then it is left to b's Flush.
func (s *Store) create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, b *batch) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("invalid size %d", size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A seal's commit point past its lease's commit deadline (a pause since the fence) is
	// not written: another sealer may hold the lease by now.
	if err := archiver.CheckCommitDeadline(ctx); err != nil {
		return err
	}

	dir := path.Dir(key)

	// A rerun usually finds its objects already there: compare first rather than write a
	// copy only to throw it away. The link below still decides races.
	switch err := s.compare(ctx, key, size, sum); {
	case err == nil && b != nil:
		b.foundExisting(key) // the batch's last sync makes its name durable too
		return nil
	case err == nil:
		// The run that wrote it may have crashed before its folders were synced.
		return s.syncDirs(dir)
	case !errors.Is(err, archiver.ErrNotFound):
		return err
	}

	if err := s.perm.mkdirAll(s.root, filepath.FromSlash(dir)); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	tmp, seq, err := s.writeTemp(ctx, dir, body, size, sum, b == nil)
	if err != nil {
		return err
	}
	if b != nil {
		return b.add(key, seq)
	}
	linkErr := s.root.Link(tmp, filepath.FromSlash(key))
	if err := s.root.Remove(tmp); err != nil {
		return errors.Join(linkErr, fmt.Errorf("remove temporary file: %w", err))
	}
	switch {
	case errors.Is(linkErr, fs.ErrExist):
		// Another writer won the race; it linked a complete, synced file, so comparing
		// now is safe. It may not have synced the folders yet, so do it here too.
		if err := s.compare(ctx, key, size, sum); err != nil {
			return err
		}
	case linkErr != nil:
		return fmt.Errorf("link object: %w", linkErr)
	}
	return s.syncDirs(dir)
}

// syncDirs makes the names below dir durable: it syncs dir, which holds the object's new
// name, then every folder on the way up whose own name this Store has not yet made durable
// in its parent. Any of those may have just been created, by this Create or by a concurrent
// one whose sync cannot be counted on; once a folder's parent has been synced after the
// folder existed, its name is durable for good (the store never removes a folder), so each
// folder's name costs one sync per process, not one on every Create below it. A Create that
// returns nil has a durable object.
func (s *Store) syncDirs(dir string) error {
	if err := s.syncFolder(dir); err != nil {
		return err
	}
	var made []string
	for d := dir; d != "." && !s.durable.has(d); d = path.Dir(d) {
		if err := s.syncFolder(path.Dir(d)); err != nil {
			return err
		}
		made = append(made, d)
	}
	// Only now: a folder's name is durable once its parents' names are too.
	for _, d := range made {
		s.durable.add(d)
	}
	return nil
}

// durableFolders remembers the folders whose names are durable in their parents. It is
// bounded: forgetting costs a sync again, never correctness, and a day of many
// organizations creates new folders for each, which would otherwise pile up.
type durableFolders struct {
	mu sync.Mutex
	m  map[string]struct{}
	// flushed are the folders of the objects the last batch linked (batch.go), whose names
	// and parents' names its last syncfs made durable: a day's manifests go to the folders
	// of its exports. Replaced by the next batch, so it holds one day's organizations at
	// most, however many there are (the strings are the keys' own bytes).
	flushed map[string]struct{}
}

// maxDurableFolders bounds durableFolders (some 100 bytes each): far more than the folders
// of the organizations a seal writes at once, which are the ones that gain from it.
const maxDurableFolders = 1 << 12

func (f *durableFolders) has(dir string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[dir]; ok {
		return true
	}
	_, ok := f.flushed[dir]
	return ok
}

// setFlushed replaces the folders the last batch made durable.
func (f *durableFolders) setFlushed(dirs map[string]struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = dirs
}

func (f *durableFolders) add(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) >= maxDurableFolders {
		f.m = make(map[string]struct{})
	}
	f.m[dir] = struct{}{}
}

// writeTemp writes body to a new temporary file in dir, checks it against size and sum,
// makes it read-only and syncs it (when durable; else it only starts writing it back, for
// a batch's Flush). It returns the file's name and seq, or removes it and fails.
func (s *Store) writeTemp(ctx context.Context, dir string, body io.Reader, size int64, sum [sha256.Size]byte, durable bool) (_ string, _ uint64, err error) {
	f, tmp, seq, err := s.createTemp(dir, !durable)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			remove := s.root.Remove
			if !durable {
				remove = s.removeTemp
			}
			if rerr := remove(tmp); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove temporary file: %w", rerr))
			}
		}
	}()

	// Read one byte more than announced so a long body is caught, not truncated.
	limit := size
	if limit < math.MaxInt64 {
		limit++
	}
	h := sha256.New()
	n, err := copyContext(ctx, io.MultiWriter(crashpoint.Writer("fsstore.write", f), h), io.LimitReader(body, limit))
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("write object: %w", err)
	case n > size:
		return "", 0, fmt.Errorf("body is longer than size %d", size)
	case n < size:
		return "", 0, fmt.Errorf("short body: got %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if got := [sha256.Size]byte(h.Sum(nil)); got != sum {
		return "", 0, fmt.Errorf("SHA-256 mismatch: body has %x, want %x", got, sum)
	}
	if s.perm.group {
		if err := f.Chown(-1, s.perm.gid); err != nil {
			return "", 0, fmt.Errorf("give object to group %d (the process's user must be a member): %w", s.perm.gid, err)
		}
	}
	if err := f.Chmod(s.perm.objectMode()); err != nil {
		return "", 0, fmt.Errorf("make object read-only: %w", err)
	}
	if err := s.settle(f, durable); err != nil {
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("close object: %w", err)
	}
	return tmp, seq, nil
}

// createTemp creates a new, empty temporary file in dir, named by the Store's random token
// and the file's seq, so concurrent writers of one key, in this process or another, each
// get their own. It returns the file, its name below the root and its seq.
//
// An owned file (a batch's, a stream object's: one that outlives the call that makes it)
// holds the Store's owner file until removeTemp (temps.go), so a sweep can tell it from a
// dead writer's. An ordinary Create's is linked and removed within the call and holds
// none: taking and letting go the owner file for each doubled a Create's time on ext4,
// and a crash leaves at most one small file per Create under way, removed after a week.
func (s *Store) createTemp(dir string, owned bool) (*os.File, string, uint64, error) {
	release := func() {}
	if owned {
		if err := s.acquireOwner(); err != nil {
			return nil, "", 0, err
		}
		release = s.releaseOwner
	}
	for range 10 {
		seq := s.seq.Add(1)
		name := s.tempName(dir, seq)
		f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, tempMode) // RDWR: a stream object is read back (CreateStream)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			release()
			return nil, "", 0, fmt.Errorf("create temporary file: %w", err)
		}
		return f, name, seq, nil
	}
	release()
	return nil, "", 0, errors.New("create temporary file: too many name collisions")
}

// tempName is the name below the root of the temporary file seq in dir.
func (s *Store) tempName(dir string, seq uint64) string {
	return filepath.Join(filepath.FromSlash(dir), tempPrefix+s.token+"."+strconv.FormatUint(seq, 36))
}

// settle ends the writing of an object's temporary file f before it is closed: it syncs
// the file when durable, and otherwise starts writing it back (a batch's Flush then finds
// little left to write).
func (s *Store) settle(f *os.File, durable bool) error {
	if !durable {
		if err := startWriteback(f); err != nil {
			return fmt.Errorf("write object back: %w", err)
		}
		return nil
	}
	s.syncs.Add(1)
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync object: %w", err)
	}
	return nil
}

// compare checks the object at key against size and sum. It returns nil when they match,
// an error wrapping archiver.ErrConflict when they do not, and one wrapping
// archiver.ErrNotFound when there is no object.
func (s *Store) compare(ctx context.Context, key string, size int64, sum [sha256.Size]byte) error {
	f, err := s.open(key)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat existing object: %w", err)
	}
	if fi.Size() != size {
		return fmt.Errorf("%w: stored object has %d bytes, new one %d", archiver.ErrConflict, fi.Size(), size)
	}
	h := sha256.New()
	if _, err := copyContext(ctx, h, f); err != nil {
		return fmt.Errorf("hash existing object: %w", err)
	}
	if got := [sha256.Size]byte(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: stored object has SHA-256 %x, new one %x", archiver.ErrConflict, got, sum)
	}
	return nil
}

// Open implements archiver.Store. The reader is an *os.File.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", key, err)
	}
	f, err := s.open(key)
	if errors.Is(err, errFolder) || errors.Is(err, archiver.ErrNotFound) {
		// Not found in a folder that is no longer the store's is not "not stored".
		if herr := s.checkHome(); herr != nil {
			return nil, fmt.Errorf("fsstore: open %s: %w", key, herr)
		}
	}
	if errors.Is(err, errFolder) {
		return nil, fmt.Errorf("fsstore: open %s: %w: %w", key, archiver.ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %s: %w", key, err)
	}
	return f, nil
}

// errFolder is what open returns for a key that is a folder of other keys. Open reports it
// as not found, as S3 would; Create fails with it, because no object can be created there.
var errFolder = errors.New("key is a folder of other objects")

// open opens the object at key, which must be a regular file. A path through a file is no
// object either: it is not found.
func (s *Store) open(key string) (*os.File, error) {
	f, err := s.root.Open(filepath.FromSlash(key))
	if notExist(err) {
		return nil, archiver.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat object: %w", err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, errFolder
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file: %s", fi.Mode())
	}
	return f, nil
}

// List implements archiver.Store. It reports only regular files, walks only the folder the
// prefix ends in, and holds one folder's entries at a time per level, never the whole tree.
// Symbolic links are neither reported nor followed.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements archiver.AfterLister. A folder's names are still read from the
// disk (a folder has no order to seek in), but those whose keys sort at or before
// startAfter are dropped by name alone: no stat, no open, no sort, and a skipped
// sub-folder is never entered. Listing the days after an organization's last sealed one
// therefore reads one folder of names and enters only the new days.
func (s *Store) ListAfter(ctx context.Context, prefix, startAfter string, fn func(key string) error) error {
	dir := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	if err := archiver.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("fsstore: list: %w", err)
	}
	if dir != "." {
		if err := checkTemp(dir); err != nil {
			return fmt.Errorf("fsstore: list: %w", err)
		}
	}
	if err := s.checkHome(); err != nil {
		return fmt.Errorf("fsstore: list %s: %w", prefix, err)
	}
	return s.walk(ctx, dir, prefix, startAfter, fn)
}

// readDirBatch is how many names walk reads from a folder at a time: a folder of a
// hundred thousand names is filtered as it is read, not held whole.
const readDirBatch = 1024

// walk calls fn for the objects below dir whose keys start with prefix and sort after
// startAfter, in byte order.
//
// It reads names only (Readdirnames) and stats just the names it keeps, one fstatat each
// in the folder it has open: File.ReadDir on a folder opened through an os.Root stats
// every entry on its own, which made listing a folder of 10,000 names fifteen times
// slower than reading them, whether they were wanted or not.
//
// Sorting a folder's entries by name is not enough (it is what filepath.WalkDir does): the
// keys below folder "b" start with "b/", and '/' sorts after '-' and '.', so "b-c" and
// "b.c" come before "b/x" although "b" sorts first. Sorting each folder's entries by their
// name plus "/" for folders yields the keys in byte order, because no name holds a '/'.
func (s *Store) walk(ctx context.Context, dir, prefix, startAfter string, fn func(key string) error) error {
	folder := s.root
	if dir != "." {
		sub, err := s.root.OpenRoot(filepath.FromSlash(dir))
		if notExist(err) {
			return nil // nothing was ever stored below dir
		}
		if err != nil {
			// os.Root says "not a directory" in an error of its own, not ENOTDIR.
			if fi, serr := s.root.Lstat(filepath.FromSlash(dir)); serr == nil && !fi.IsDir() {
				return nil // dir is an object, so no key has dir+"/" as a prefix
			}
			return fmt.Errorf("fsstore: list %s: open folder %s: %w", prefix, dir, err)
		}
		defer sub.Close()
		folder = sub
	}
	d, err := folder.Open(".")
	if notExist(err) {
		return nil // dir is an object, so no key has dir+"/" as a prefix
	}
	if err != nil {
		return fmt.Errorf("fsstore: list %s: open folder %s: %w", prefix, dir, err)
	}
	type entry struct {
		key   string // the object's key, or the folder's path plus "/"
		isDir bool
	}
	var keep []entry
	for {
		names, err := d.Readdirnames(readDirBatch)
		if err == io.EOF {
			break
		}
		if notExist(err) {
			d.Close()
			return nil // dir is an object
		}
		if err != nil {
			d.Close()
			return fmt.Errorf("fsstore: list %s: read folder %s: %w", prefix, dir, err)
		}
		for _, name := range names {
			key := name
			if dir != "." {
				key = dir + "/" + name
			}
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			// Every key of the entry, a file's or those below a folder's, sorts at or
			// before key+"/", so none is wanted when key+"/" does and startAfter is not
			// below it: dropped unseen.
			if sub := key + "/"; sub <= startAfter && !strings.HasPrefix(startAfter, sub) {
				continue
			}
			fi, err := folder.Lstat(name)
			if notExist(err) {
				continue // removed since (a task's object, a temporary file)
			}
			if err != nil {
				d.Close()
				return fmt.Errorf("fsstore: list %s: %s: %w", prefix, key, err)
			}
			switch {
			case fi.IsDir():
				keep = append(keep, entry{key + "/", true})
			case !fi.Mode().IsRegular() || strings.HasPrefix(name, tempPrefix) || key <= startAfter:
			default:
				keep = append(keep, entry{key, false})
			}
		}
		if len(names) < readDirBatch {
			break
		}
	}
	d.Close()
	slices.SortFunc(keep, func(a, b entry) int { return strings.Compare(a.key, b.key) })

	for _, e := range keep {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fsstore: list %s: %w", prefix, err)
		}
		if e.isDir {
			if err := s.walk(ctx, strings.TrimSuffix(e.key, "/"), prefix, startAfter, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(e.key); err != nil {
			return err
		}
	}
	return nil
}

// notExist reports whether err means there is nothing at a path, including when one of its
// folders is a file.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// syncFolder syncs the folder dir (a slash-separated path below the root, "." for the
// root), making the names in it durable.
func (s *Store) syncFolder(dir string) error {
	s.syncs.Add(1)
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// copyContext is io.Copy that stops once ctx is done, so a cancelled run does not keep
// writing or hashing a large object.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := getCopyBuffer()
	defer putCopyBuffer(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// copyBuffers is a fixed free list of copyContext's buffers: a seal creates a few objects
// per organization, and a buffer each would be 128 KiB of garbage per object. Not a
// sync.Pool, which every garbage collection empties. It keeps at most 8 (1 MiB).
var copyBuffers = make(chan []byte, 8)

func getCopyBuffer() []byte {
	select {
	case b := <-copyBuffers:
		return b
	default:
		return make([]byte, 128<<10)
	}
}

func putCopyBuffer(b []byte) {
	select {
	case copyBuffers <- b:
	default:
	}
}

var _ archiver.Deleter = (*Store)(nil)

// Delete implements archiver.Deleter: it removes an object under archiver.TasksPrefix
// (an export task's result past its retention) or a lease link or watermark no lookup
// reads again (archiver.Deletable), and refuses every other key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.readOnly {
		return fmt.Errorf("fsstore: delete %s: %w", key, ErrReadOnly)
	}
	if err := s.checkHome(); err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	if !archiver.Deletable(key) {
		return fmt.Errorf("fsstore: delete %s: refused: only keys under %s (and the sealers' leases and watermarks) may be deleted", key, archiver.TasksPrefix)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	f, err := s.open(key)
	if errors.Is(err, errFolder) || errors.Is(err, archiver.ErrNotFound) {
		return fmt.Errorf("fsstore: delete %s: %w", key, archiver.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	f.Close()
	name := filepath.FromSlash(key)
	if err := s.root.Remove(name); err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	if err := s.syncFolder(filepath.ToSlash(filepath.Dir(name))); err != nil {
		return fmt.Errorf("fsstore: delete %s: %w", key, err)
	}
	if !strings.HasPrefix(key, archiver.TasksPrefix) {
		// A lease epoch's or a watermark day's folder, emptied by its janitor: nothing is
		// written there again, and an empty folder would still be listed (ListFolders).
		// Removing a folder that is not empty fails, and is left at that.
		if dir := filepath.Dir(name); s.root.Remove(dir) == nil {
			if err := s.syncFolder(filepath.ToSlash(filepath.Dir(dir))); err != nil {
				return fmt.Errorf("fsstore: delete %s: %w", key, err)
			}
		}
	}
	return nil
}
