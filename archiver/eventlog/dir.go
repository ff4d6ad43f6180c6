package eventlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/panics"
	"golang.org/x/sync/errgroup"
)

// DefaultMaxLineBytes is the longest line Scan delivers whole unless Dir.MaxLineBytes says
// otherwise. Real events are a few KiB; the limit only exists so one broken line cannot
// exhaust memory.
const DefaultMaxLineBytes = 64 << 20

// closedMarker is the file the producer writes when a partition is complete.
const closedMarker = "_CLOSED"

// ErrNoPartition is returned (wrapped) by Scan when the day's partition folder does not
// exist: the producer has not delivered, which is not the same as a day without events.
var ErrNoPartition = errors.New("partition does not exist")

// ErrPartitionChanged is returned (wrapped) by Scan when the partition changed while it was
// read: a file appeared, went away, grew, shrank, was rewritten or replaced. What was read
// may be a view of the day that never existed as a whole (half a file, say), so Scan fails
// rather than let it be sealed; a later run reads the partition as it then is.
var ErrPartitionChanged = errors.New("partition changed while it was read")

var _ archiver.Source = (*Dir)(nil)

// Dir is an event log kept in a local folder. It is safe for concurrent use once its
// fields are set; it holds no open files between calls.
type Dir struct {
	// MaxLineBytes is the longest line, without its line ending, that Scan delivers whole.
	// Zero or negative means DefaultMaxLineBytes. It also bounds Scan's memory: one scan
	// holds at most about MaxLineBytes plus a fixed 3.6 MiB of buffers (the line reader's,
	// and two gzipped files' inflaters': inflate.go); ScanConcurrent holds that much for
	// each of its readers.
	MaxLineBytes int
	// Ignore are path.Match patterns of the partition's side files (export.ignoreFiles),
	// matched against an entry's name within the partition: such a file is not read as
	// events but hashed, and recorded in the manifests (see Classify). Invalid patterns
	// fail Stat and Scan.
	Ignore []string
	// MaxSnapshotBytes bounds ReadFile (directory.maxSize); zero or negative means
	// archiver.DirectoryCap.
	MaxSnapshotBytes int64

	root string
	// bufSize is the line reader's buffer size; tests shrink it to reach the paths for
	// lines longer than the buffer without writing megabytes.
	bufSize int
}

// NewDir returns the event log rooted at the folder root.
func NewDir(root string) (*Dir, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("eventlog: open root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("eventlog: open root: %s is not a folder", root)
	}
	return &Dir{root: root, MaxLineBytes: DefaultMaxLineBytes, bufSize: defaultBufSize}, nil
}

// Stat describes day's partition. A missing partition folder is not an error (Exists is
// false); a partition path that is not a folder is. Entries that are not read, a symlink
// that cannot be resolved inside root among them, are listed in Unread.
func (d *Dir) Stat(ctx context.Context, day archiver.Day) (archiver.Partition, error) {
	if err := ctx.Err(); err != nil {
		return archiver.Partition{}, err
	}
	root, err := d.openRoot()
	if err != nil {
		return archiver.Partition{}, err
	}
	defer root.Close()
	return d.partition(root, day)
}

// Days lists the days that have a partition folder, oldest first. Names that are not
// days (YYYY-MM-DD) and files named like days are ignored; Stat reports the latter.
func (d *Dir) Days(ctx context.Context) ([]archiver.Day, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := d.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := readDir(root, ".")
	if err != nil {
		return nil, fmt.Errorf("eventlog: list days: %w", err)
	}
	var days []archiver.Day
	for _, e := range entries {
		name := e.Name()
		day, err := archiver.ParseDay(name)
		if err != nil || day.String() != name {
			continue
		}
		mode, err := resolveType(root, name, e.Type())
		if err != nil {
			return nil, fmt.Errorf("eventlog: list days: %w", err)
		}
		if mode.IsDir() {
			days = append(days, day)
		}
	}
	// Fixed-width names sort chronologically.
	slices.SortFunc(days, func(a, b archiver.Day) int { return strings.Compare(a.String(), b.String()) })
	return days, nil
}

// ReadFile reads the file name, relative to root, whole; it is meant for the directory
// snapshot (directory.json), and refuses it as ReadSnapshot does: past MaxSnapshotBytes,
// or when it is not a regular file.
func (d *Dir) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := d.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := openSnapshot(name, func() (fs.FileInfo, error) { return root.Stat(name) }, func() (*os.File, error) { return root.Open(name) })
	if err != nil {
		return nil, fmt.Errorf("eventlog: read %s: %w", name, err)
	}
	defer f.Close()
	b, err := archiver.ReadCappedAs(f, name, snapshotKind, snapshotMax(d.MaxSnapshotBytes))
	if err != nil {
		return nil, fmt.Errorf("eventlog: read %s: %w", name, err)
	}
	return b, nil
}

// Scan calls fn with every non-blank line of day's partition, files in name order and
// lines in file order (see the package documentation for what a line is), then reads
// every ignored file whole and returns each one's size and SHA-256. An error from fn stops
// the scan and is returned unchanged; so is ctx's error, checked every few thousand
// lines. A missing partition is an error wrapping ErrNoPartition; one holding entries
// that are not read, an *archiver.UnreadError naming them all, before any line is
// delivered; and one that changed while it was read (compared before and after: the list
// of entries, and each event and ignored file's identity, size and modification time) an
// error wrapping ErrPartitionChanged.
func (d *Dir) Scan(ctx context.Context, day archiver.Day, fn func(archiver.Line) error) ([]archiver.IgnoredFile, error) {
	return d.scan(ctx, day, 1, func(_ int, l archiver.Line) error { return fn(l) })
}

// ScanConcurrent is Scan with the partition's files read by up to readers goroutines at
// once, each taking the next file not yet taken: fn is called concurrently, with the
// number of the reader (0 to readers-1) that read the line, and each file's lines come in
// order from one reader. Files are no longer delivered in name order.
//
// One reader inflating a gzipped file is the bottleneck of a partition that has some: it
// inflates no faster than about 250 MB/s, about the rate two cores decode the lines, so
// the seal's decoding workers waited for it while the file was read (1.5 of 2 cores busy)
// and raced ahead of it on the plain files. Two readers overlap a gzipped file's inflating
// with the reading of another file (TestScanConcurrentOverlapsFiles). Each reader holds
// its own line buffer and inflater (Dir.MaxLineBytes).
func (d *Dir) ScanConcurrent(ctx context.Context, day archiver.Day, readers int, fn func(reader int, l archiver.Line) error) ([]archiver.IgnoredFile, error) {
	return d.scan(ctx, day, readers, fn)
}

var _ archiver.ConcurrentSource = (*Dir)(nil)

func (d *Dir) scan(ctx context.Context, day archiver.Day, readers int, fn func(int, archiver.Line) error) ([]archiver.IgnoredFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := d.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	p, err := d.partition(root, day)
	if err != nil {
		return nil, err
	}
	if !p.Exists {
		return nil, fmt.Errorf("eventlog: scan %s: %w", day, ErrNoPartition)
	}
	if len(p.Unread) > 0 {
		return nil, fmt.Errorf("eventlog: scan %s: %w", day, &archiver.UnreadError{Entries: p.Unread})
	}
	// Ignored files are compared before and after like event files: what the manifest
	// records of them must be what was there all along.
	names := append(slices.Clip(p.Files), p.Ignored...)
	before, err := statFiles(root, names)
	if err != nil {
		return nil, fmt.Errorf("eventlog: scan %s: %w", day, err)
	}
	if readers = min(readers, len(p.Files)); readers > 1 {
		err = d.scanFilesConcurrent(ctx, root, p.Files, before, readers, fn)
	} else {
		err = d.scanFiles(ctx, root, p.Files, before, func(l archiver.Line) error { return fn(0, l) })
	}
	if err != nil {
		return nil, err
	}
	var ignored []archiver.IgnoredFile
	for i, name := range p.Ignored {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := hashFile(root, name, before[len(p.Files)+i])
		if err != nil {
			return nil, err
		}
		ignored = append(ignored, f)
	}
	// A producer still writing, or rewriting, a "closed" partition: what was read may be
	// half of a file or a mix of two versions. Comparing once at the end is enough: any
	// change while reading leaves a trace in the list, the sizes or the times.
	after, err := d.partition(root, day)
	if err != nil {
		return nil, fmt.Errorf("eventlog: scan %s: %w", day, err)
	}
	if was, now := entries(p), entries(after); !slices.Equal(was, now) {
		return nil, fmt.Errorf("eventlog: scan %s: %w: its entries were %s, now %s", day, ErrPartitionChanged,
			strings.Join(was, ", "), strings.Join(now, ", "))
	}
	now, err := statFiles(root, names)
	if err != nil {
		return nil, fmt.Errorf("eventlog: scan %s: %w: %w", day, ErrPartitionChanged, err)
	}
	for i, name := range names {
		if err := sameFile(name, before[i], now[i]); err != nil {
			return nil, fmt.Errorf("eventlog: scan %s: %w", day, err)
		}
	}
	return ignored, nil
}

// scanFiles reads files in order on this goroutine, starting each gzipped file's inflating
// while the file before it is read.
func (d *Dir) scanFiles(ctx context.Context, root *os.Root, files []string, before []fs.FileInfo, fn func(archiver.Line) error) error {
	s := newScanner(d.maxLineBytes(), d.bufSize)
	defer s.close()
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		// This file's inflater, when it was started while the file before was read; then
		// the next file, when gzipped, starts inflating while this one is read.
		cur := s.takeAhead(name)
		if i+1 < len(files) {
			s.prefetch(root, files[i+1], before[i+1])
		}
		if err := s.scanFile(ctx, root, name, before[i], cur, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanFilesConcurrent reads files on readers goroutines, each taking the next file not
// taken yet. The first error stops them all and is returned unchanged.
func (d *Dir) scanFilesConcurrent(ctx context.Context, root *os.Root, files []string, before []fs.FileInfo, readers int, fn func(int, archiver.Line) error) error {
	g, gctx := errgroup.WithContext(ctx)
	order := readOrder(files, before)
	var next atomic.Int64
	for r := range readers {
		g.Go(func() (err error) {
			defer panics.Recover(&err) // a panic (a bug) is the reader's error: the seal fails
			s := newScanner(d.maxLineBytes(), d.bufSize)
			defer s.close()
			emit := func(l archiver.Line) error { return fn(r, l) }
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				i = order[i]
				if err := s.scanFile(gctx, root, files[i], before[i], nil, emit); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// readOrder returns the order in which concurrent readers take files: the costliest
// first, so that no reader is left alone with a long file while the others are done
// (with two readers and the gzipped files last, the last file's inflating ran on one core
// while the other idled). A gzipped file is counted at eight times its size: it inflates
// to three or four times it, and inflating costs about as much as reading what it gives.
// The order changes nothing but the time: the seal sorts what it reads.
func readOrder(files []string, before []fs.FileInfo) []int {
	cost := func(i int) int64 {
		if strings.HasSuffix(files[i], ".gz") {
			return 8 * before[i].Size()
		}
		return before[i].Size()
	}
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost(b), cost(a)) })
	return order
}

// entries lists every entry of a partition but _CLOSED, for comparing two listings.
func entries(p archiver.Partition) []string {
	out := slices.Clone(p.Files)
	out = append(out, p.Ignored...)
	for _, u := range p.Unread {
		out = append(out, u.Name)
	}
	slices.Sort(out)
	return out
}

// hashFile reads the ignored file name whole, which must still be the file listed (want)
// when the scan began.
func hashFile(root *os.Root, name string, want fs.FileInfo) (archiver.IgnoredFile, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return archiver.IgnoredFile{}, fmt.Errorf("eventlog: open %s: %w: %s is gone: %w", name, ErrPartitionChanged, name, err)
	}
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("eventlog: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("eventlog: stat %s: %w", name, err)
	}
	if !os.SameFile(fi, want) {
		return archiver.IgnoredFile{}, fmt.Errorf("eventlog: open %s: %w: %s was replaced", name, ErrPartitionChanged, name)
	}
	out, err := HashIgnored(name, f)
	if err != nil {
		return archiver.IgnoredFile{}, fmt.Errorf("eventlog: %w", err)
	}
	return out, nil
}

// statFiles returns what Scan compares of each file before and after reading it.
func statFiles(root *os.Root, names []string) ([]fs.FileInfo, error) {
	out := make([]fs.FileInfo, len(names))
	for i, name := range names {
		fi, err := root.Stat(name)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", name, err)
		}
		out[i] = fi
	}
	return out, nil
}

// sameFile reports, as an error wrapping ErrPartitionChanged, how the file name changed
// from a to b, or nil when it did not.
func sameFile(name string, a, b fs.FileInfo) error {
	switch {
	case !os.SameFile(a, b):
		return fmt.Errorf("%w: %s was replaced", ErrPartitionChanged, name)
	case a.Size() != b.Size():
		return fmt.Errorf("%w: %s went from %d to %d bytes", ErrPartitionChanged, name, a.Size(), b.Size())
	case !a.ModTime().Equal(b.ModTime()):
		return fmt.Errorf("%w: %s was modified at %s", ErrPartitionChanged, name, b.ModTime().UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func (d *Dir) maxLineBytes() int {
	if d.MaxLineBytes <= 0 {
		return DefaultMaxLineBytes
	}
	return d.MaxLineBytes
}

// openRoot opens root per call rather than once in NewDir so that Dir needs no Close and
// keeps no descriptor open between nightly runs.
func (d *Dir) openRoot() (*os.Root, error) {
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, fmt.Errorf("eventlog: open root: %w", err)
	}
	return root, nil
}

func (d *Dir) partition(root *os.Root, day archiver.Day) (archiver.Partition, error) {
	if day.IsZero() {
		return archiver.Partition{}, errors.New("eventlog: stat partition: zero day")
	}
	name := day.String()
	fi, err := root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		// A dangling symlink also reports ErrNotExist; it is a broken delivery, not a
		// missing one, and must not pass for "producer has not delivered yet".
		if _, lerr := root.Lstat(name); lerr == nil {
			return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: dangling symlink: %w", name, err)
		}
		return archiver.Partition{}, nil
	}
	if err != nil {
		return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %w", name, err)
	}
	if !fi.IsDir() {
		return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %s is not a folder",
			name, filepath.Join(d.root, name))
	}
	entries, err := readDir(root, name)
	if err != nil {
		return archiver.Partition{}, fmt.Errorf("eventlog: list partition %s: %w", name, err)
	}
	if err := CheckIgnorePatterns(d.Ignore); err != nil {
		return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %w", name, err)
	}
	p := archiver.Partition{Exists: true}
	for _, e := range entries {
		base := e.Name()
		rel := name + "/" + base
		mode, err := resolveType(root, rel, e.Type())
		if err != nil {
			// A symlink that leads nowhere or out of root: an entry that cannot be read,
			// reported with the others rather than alone.
			p.Unread = append(p.Unread, archiver.UnreadEntry{Name: rel, Why: err.Error()})
			continue
		}
		kind, why := Classify(base, mode, d.Ignore)
		switch kind {
		case Closed:
			p.Closed = true
		case Event:
			p.Files = append(p.Files, rel)
		case Ignored:
			p.Ignored = append(p.Ignored, rel)
		default:
			p.Unread = append(p.Unread, archiver.UnreadEntry{Name: entryName(rel, mode), Why: why})
		}
	}
	slices.Sort(p.Files)
	slices.Sort(p.Ignored)
	slices.SortFunc(p.Unread, func(a, b archiver.UnreadEntry) int { return strings.Compare(a.Name, b.Name) })
	if !p.Closed {
		if p.Clock, err = writtenUntil(root, name, fi, entries); err != nil {
			return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %w", name, err)
		}
		next := day.Next().String()
		switch nfi, err := root.Stat(next); {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %w", next, err)
		case nfi.IsDir():
			nentries, err := readDir(root, next)
			if err != nil {
				return archiver.Partition{}, fmt.Errorf("eventlog: list partition %s: %w", next, err)
			}
			at, err := writtenUntil(root, next, nfi, nentries)
			if err != nil {
				return archiver.Partition{}, fmt.Errorf("eventlog: stat partition %s: %w", next, err)
			}
			if at.After(p.Clock) {
				p.Clock = at
			}
		}
	}
	return p, nil
}

// writtenUntil is the newest modification time of the folder name (fi) and of its
// entries: the latest the clock of whoever writes there (the producer, or the file server
// that stamps its writes) is known to have read. A Partition's Clock: the grace of a
// partition without _CLOSED is counted on it as well as on this host's clock.
func writtenUntil(root *os.Root, name string, fi fs.FileInfo, entries []fs.DirEntry) (time.Time, error) {
	at := fi.ModTime()
	for _, e := range entries {
		info, err := root.Stat(name + "/" + e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since listed, or a symlink leading nowhere (in Unread)
		}
		if err != nil {
			if e.Type()&fs.ModeSymlink != 0 {
				continue // out of root: in Unread already
			}
			return time.Time{}, err
		}
		if t := info.ModTime(); t.After(at) {
			at = t
		}
	}
	return at, nil
}

func isEventFile(name string) bool {
	return strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".jsonl.gz")
}

// resolveType follows a symlink through root, which is where an escape out of root is
// refused, so Stat reports it before Scan would.
func resolveType(root *os.Root, name string, mode fs.FileMode) (fs.FileMode, error) {
	if mode&fs.ModeSymlink == 0 {
		return mode, nil
	}
	fi, err := root.Stat(name)
	if err != nil {
		return 0, fmt.Errorf("resolve symlink %s: %w", name, err)
	}
	return fi.Mode().Type(), nil
}

func readDir(root *os.Root, name string) ([]fs.DirEntry, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
