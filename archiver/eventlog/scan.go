package eventlog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/klauspost/compress/gzip"
)

const (
	// defaultBufSize holds thousands of typical events, so almost every line is handed out
	// straight from the buffer without copying.
	defaultBufSize = 1 << 20
	// gzipInBufSize buffers the compressed input; bufio.Reader is also the io.ByteReader
	// flate wants, which saves it from wrapping the file in a small buffer of its own.
	gzipInBufSize = 256 << 10
	// cancelEvery is how many lines pass between checks of ctx: often enough to stop within
	// milliseconds, rarely enough to cost nothing.
	cancelEvery = 4096
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// ErrLineTooLong matches (errors.Is) the Line.Err of a line longer than Dir.MaxLineBytes;
// that Err is an *archiver.LineTooLongError with the whole line's size and SHA-256.
var ErrLineTooLong = archiver.ErrLineTooLong

// TooLongHeadBytes is how much of a line longer than the limit Scan delivers in
// Line.Bytes (less when the limit is smaller): enough to see what the line was, while a
// 64 MiB line does not cost 64 MiB again in every stage after the scanner.
const TooLongHeadBytes = 64 << 10

// Scanner reads event files with the rules of this package (see Lines in the package
// documentation) from any reader, for Sources that keep the event log elsewhere than in a
// local folder (archiver/s3). It reuses its buffers from file to file; it is not safe for
// concurrent use.
type Scanner struct{ s *scanner }

// NewScanner returns a Scanner that delivers lines up to maxLineBytes (DefaultMaxLineBytes
// when zero or negative) whole.
func NewScanner(maxLineBytes int) *Scanner {
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	return &Scanner{newScanner(maxLineBytes, defaultBufSize)}
}

// ScanFile calls fn with every non-blank line of the event file name read from r, as
// Dir.Scan does for one file; name ending in ".gz" means r is gzipped. The caller opens
// and closes r. An error from fn is returned unchanged, and so is ctx's.
func (s *Scanner) ScanFile(ctx context.Context, name string, r io.Reader, fn func(archiver.Line) error) error {
	return s.s.scanReader(ctx, name, r, fn)
}

// scanner holds the buffers of one Scan, reused from file to file so the per-line cost is
// a slice header, not an allocation.
type scanner struct {
	max   int
	lines *bufio.Reader // decompressed bytes, split into lines
	// inflaters are the gzip readers not in use (inflate.go); ahead is the next gzipped
	// file, being inflated while the file before it is read (Dir.Scan).
	inflaters []*inflater
	ahead     *aheadFile
	scratch   []byte // assembles lines longer than lines' buffer, up to max+2 bytes
	pending   int    // lines since ctx was last checked
	// sum hashes a line that outgrew scratch, as it streams past; see feed.
	sum     hash.Hash
	hashing bool
	held    [2]byte // the last bytes fed, not hashed yet: they may be the line's ending
	nheld   int
}

// aheadFile is a gzipped file opened, and being inflated, before the scan gets to it;
// err is what opening it or reading its header failed with, reported when it does.
type aheadFile struct {
	name string
	in   *inflater
	err  error
}

func newScanner(maxLine, bufSize int) *scanner {
	if bufSize <= 0 {
		bufSize = defaultBufSize
	}
	return &scanner{
		max:   maxLine,
		lines: bufio.NewReaderSize(nil, bufSize),
	}
}

// inflater returns an inflater from the free list, or a new one.
func (s *scanner) inflater() *inflater {
	if n := len(s.inflaters); n > 0 {
		in := s.inflaters[n-1]
		s.inflaters = s.inflaters[:n-1]
		return in
	}
	return newInflater()
}

// release stops in and keeps it for the next gzipped file.
func (s *scanner) release(in *inflater) {
	in.finish()
	if len(s.inflaters) < maxInflaters {
		s.inflaters = append(s.inflaters, in)
	}
}

// close stops what the scan started ahead and did not get to (it stopped early).
func (s *scanner) close() {
	if a := s.ahead; a != nil {
		s.ahead = nil
		if a.in != nil {
			s.release(a.in)
		}
	}
}

// openFile opens the event file name, which must still be the file listed (want) when
// the scan began.
func openFile(root *os.Root, name string, want fs.FileInfo) (*os.File, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("eventlog: open %s: %w: %s is gone: %w", name, ErrPartitionChanged, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: open %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("eventlog: stat %s: %w", name, err)
	}
	if !os.SameFile(fi, want) {
		f.Close()
		return nil, fmt.Errorf("eventlog: open %s: %w: %s was replaced", name, ErrPartitionChanged, name)
	}
	return f, nil
}

// prefetch opens the event file name, when it is gzipped, and starts inflating it, so
// that it inflates while the file before it is read; scanFile takes it from there.
func (s *scanner) prefetch(root *os.Root, name string, want fs.FileInfo) {
	s.close() // a file started ahead and not taken is not read: stop it (none, as Dir.Scan goes)
	if !strings.HasSuffix(name, ".gz") {
		return
	}
	a := &aheadFile{name: name}
	s.ahead = a
	f, err := openFile(root, name, want)
	if err != nil {
		a.err = err
		return
	}
	in := s.inflater()
	in.closer = f
	if err := in.start(name, f); err != nil {
		s.release(in)
		a.err = headerError(name, err)
		return
	}
	a.in = in
}

// takeAhead returns the file prefetch started ahead when it is name, and forgets it.
func (s *scanner) takeAhead(name string) *aheadFile {
	a := s.ahead
	if a == nil || a.name != name {
		return nil
	}
	s.ahead = nil
	return a
}

// scanFile reads the event file name, which must still be the file listed (want) when
// the scan began, through ahead when prefetch started it (see takeAhead).
func (s *scanner) scanFile(ctx context.Context, root *os.Root, name string, want fs.FileInfo, ahead *aheadFile, fn func(archiver.Line) error) error {
	if ahead != nil {
		if ahead.err != nil {
			return ahead.err
		}
		defer s.release(ahead.in)
		s.lines.Reset(ahead.in)
		return s.scanLines(ctx, name, fn)
	}
	f, err := openFile(root, name, want)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.scanReader(ctx, name, f, fn)
}

// scanReader reads the event file name from f, gunzipping it when name ends in ".gz".
func (s *scanner) scanReader(ctx context.Context, name string, f io.Reader, fn func(archiver.Line) error) error {
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		in := s.inflater()
		if err := in.start(name, f); err != nil {
			s.release(in)
			return headerError(name, err)
		}
		defer s.release(in)
		r = in
	}
	s.lines.Reset(r)
	return s.scanLines(ctx, name, fn)
}

// headerError is the error of a gzipped file whose header cannot be read.
func headerError(name string, err error) error {
	if err == io.EOF {
		// An empty .gz file is a producer that died before writing, not an empty day.
		err = io.ErrUnexpectedEOF
	}
	return readError(name, 0, err)
}

// gzipMembers reads the members of a gzip file one after another, as a multistream reader
// does, but refuses a file that ends inside a member's header. klauspost's multistream
// mode reports such a truncated tail as a clean end of file, which would seal a day with
// records silently missing (FuzzScan found it); compress/gzip refuses it, and so do we.
type gzipMembers struct {
	z   *gzip.Reader // with Multistream(false): io.EOF at the end of each member
	raw *bufio.Reader
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		// One member ended; another follows unless the file ends here.
		if _, perr := g.raw.Peek(1); perr != nil {
			return n, perr // io.EOF: the file ended with the member
		}
		if err := g.z.Reset(g.raw); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // bytes after the member, but no whole header
			}
			return n, err
		}
		g.z.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

func (s *scanner) scanLines(ctx context.Context, name string, fn func(archiver.Line) error) error {
	br := s.lines
	head, err := br.Peek(len(bom))
	switch {
	case bytes.Equal(head, bom):
		_, _ = br.Discard(len(bom))
	case err != nil && err != io.EOF:
		return readError(name, 0, err)
	}
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		var tooLong *archiver.LineTooLongError
		if err == bufio.ErrBufferFull {
			line, tooLong, err = s.assemble(line)
		} else {
			line = trimEOL(line)
		}
		if err != nil && err != io.EOF {
			return readError(name, n, err)
		}
		if err == io.EOF && len(line) == 0 && tooLong == nil {
			// Nothing after the last newline (or an empty file). A final line holding only
			// "\r" also lands here; it is blank, so it would not be delivered anyway.
			return nil
		}
		n++
		if tooLong == nil && len(line) > s.max {
			tooLong = &archiver.LineTooLongError{Limit: s.max, Size: int64(len(line)), SHA256: sha256.Sum256(line)}
		}
		switch {
		case tooLong != nil:
			head := line[:min(len(line), s.max, TooLongHeadBytes)]
			if ferr := fn(archiver.Line{File: name, Number: n, Bytes: head, Err: tooLong}); ferr != nil {
				return ferr
			}
		case !blank(line):
			if ferr := fn(archiver.Line{File: name, Number: n, Bytes: line}); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if s.pending++; s.pending >= cancelEvery {
			s.pending = 0
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
	}
}

// assemble finishes a line longer than the read buffer, of which first is the start. It
// keeps at most max+2 bytes (room for a "\r\n" after a line of exactly max bytes) and
// hashes the rest as it streams past, so an enormous line costs time, not memory. It
// returns the line without its ending; when that is longer than max, tooLong describes
// the whole line and line holds its first bytes.
func (s *scanner) assemble(first []byte) (line []byte, tooLong *archiver.LineTooLongError, err error) {
	s.scratch = s.scratch[:0]
	s.hashing = false
	var total int64
	var tail [2]byte // the line's last two bytes, to measure its ending
	chunk := first
	err = bufio.ErrBufferFull
	for {
		s.take(chunk)
		total += int64(len(chunk))
		tail = pushTail(tail, chunk)
		if err != bufio.ErrBufferFull {
			break
		}
		chunk, err = s.lines.ReadSlice('\n')
	}
	if err != nil && err != io.EOF {
		return nil, nil, err
	}
	size := total
	if tail[1] == '\n' {
		size--
		if tail[0] == '\r' {
			size--
		}
	} else if tail[1] == '\r' {
		size--
	}
	if size <= int64(s.max) {
		return s.scratch[:size], nil, err
	}
	tooLong = &archiver.LineTooLongError{Limit: s.max, Size: size}
	if s.hashing {
		// What is still held is the line's last byte or two; its ending is not hashed.
		rest := trimEOL(s.held[:s.nheld])
		s.sum.Write(rest)
		s.sum.Sum(tooLong.SHA256[:0])
	} else {
		tooLong.SHA256 = sha256.Sum256(s.scratch[:size])
	}
	return s.scratch[:s.max], tooLong, err
}

// take keeps p in scratch up to max+2 bytes, growing scratch no further than that so
// MaxLineBytes really is the bound on memory. Bytes beyond it go to the line's hash,
// which starts over everything kept so far.
func (s *scanner) take(p []byte) {
	limit := s.max + 2
	room := limit - len(s.scratch)
	k := min(len(p), max(room, 0))
	if need := len(s.scratch) + k; need > cap(s.scratch) {
		grown := make([]byte, len(s.scratch), min(max(2*cap(s.scratch), need), limit))
		copy(grown, s.scratch)
		s.scratch = grown
	}
	s.scratch = append(s.scratch, p[:k]...)
	if k == len(p) {
		return
	}
	if !s.hashing {
		if s.sum == nil {
			s.sum = sha256.New()
		}
		s.sum.Reset()
		s.hashing, s.nheld = true, 0
		s.feed(s.scratch)
	}
	s.feed(p[k:])
}

// feed hashes p but the last two bytes of everything fed so far, which are held back
// until more comes: they may turn out to be the line's ending, which is not hashed.
func (s *scanner) feed(p []byte) {
	if len(p) >= 2 {
		s.sum.Write(s.held[:s.nheld])
		s.sum.Write(p[:len(p)-2])
		s.held[0], s.held[1], s.nheld = p[len(p)-2], p[len(p)-1], 2
		return
	}
	for _, c := range p {
		if s.nheld == 2 {
			s.sum.Write(s.held[:1])
			s.held[0], s.nheld = s.held[1], 1
		}
		s.held[s.nheld] = c
		s.nheld++
	}
}

func pushTail(tail [2]byte, p []byte) [2]byte {
	for _, c := range p[max(0, len(p)-2):] {
		tail[0], tail[1] = tail[1], c
	}
	return tail
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// blank reports whether b holds only JSON whitespace. Events start with '{', so this
// looks at one byte for every real line.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func readError(name string, line int64, err error) error {
	return fmt.Errorf("eventlog: read %s after line %d: %w", name, line, err)
}
