package fastzip

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Record layouts (APPNOTE.TXT 4.3).
const (
	fileHeaderSignature      = 0x04034b50
	directoryHeaderSignature = 0x02014b50
	directoryEndSignature    = 0x06054b50
	directory64LocSignature  = 0x07064b50
	directory64EndSignature  = 0x06064b50
	dataDescriptorSignature  = 0x08074b50

	fileHeaderLen       = 30
	directoryHeaderLen  = 46
	directoryEndLen     = 22
	directory64LocLen   = 20
	directory64EndLen   = 56
	dataDescriptorLen   = 16
	dataDescriptor64Len = 24

	zipVersion20 = 20 // 2.0: deflate, data descriptors
	zipVersion45 = 45 // 4.5: ZIP64

	zip64ExtraID   = 0x0001
	extTimeExtraID = 0x5455

	flagDataDescriptor = 0x8
	flagUTF8           = 0x800
)

// zip64Limit is the size or offset from which ZIP64 fields are written. It is 4 GiB - 1,
// as in archive/zip; tests lower it to exercise the ZIP64 paths without writing gigabytes.
var zip64Limit uint64 = math.MaxUint32

// Writer writes a ZIP archive like archive/zip.Writer, byte for byte for the headers it
// supports, but keeps the central directory in a temporary file instead of memory, so
// that its memory does not grow with the number of entries. Entries are written with data
// descriptors (sizes and CRC after the data) and deflated with the pooled compressor.
type Writer struct {
	out     *countWriter
	dir     *os.File // the central directory, built as entries close; unlinked at once
	dirName string   // set only when the name could not be removed at creation
	dirBuf  *bufio.Writer
	dirSize uint64
	entries uint64
	last    *entryWriter
	err     error // sticky: once a write failed the archive cannot be finished
	closed  bool
}

// NewWriter starts an archive written to w, spilling its central directory to a
// temporary file in tempDir ("" = os.TempDir()).
func NewWriter(w io.Writer, tempDir string) (*Writer, error) {
	f, err := os.CreateTemp(tempDir, "chatvault-zipdir-*")
	if err != nil {
		return nil, fmt.Errorf("fastzip: create central directory file: %w", err)
	}
	zw := &Writer{out: &countWriter{w: bufio.NewWriter(w)}, dir: f, dirBuf: bufio.NewWriterSize(f, 64<<10)}
	// The directory is only ever read back through f: without a name, a crash or a caller
	// that never reaches Close leaves nothing on disk.
	if err := os.Remove(f.Name()); err != nil {
		zw.dirName = f.Name()
	}
	return zw, nil
}

// CreateHeader adds an entry and returns the writer of its content, valid until the next
// CreateHeader or Close. It honours Name, Method (zip.Store or zip.Deflate), Modified,
// Comment, Extra and ExternalAttrs; names that are not ASCII-safe are flagged UTF-8, as
// archive/zip does. The Writer takes fh and may change its fields.
func (w *Writer) CreateHeader(fh *zip.FileHeader) (io.Writer, error) {
	if err := w.finishEntry(); err != nil {
		return nil, err
	}
	if w.closed {
		return nil, errors.New("fastzip: create entry after close")
	}
	if strings.HasSuffix(fh.Name, "/") {
		return nil, fmt.Errorf("fastzip: %s: directory entries are not supported", fh.Name)
	}
	if fh.Method != zip.Store && fh.Method != zip.Deflate {
		return nil, fmt.Errorf("fastzip: %s: %w", fh.Name, zip.ErrAlgorithm)
	}
	utf8Valid1, utf8Require1 := detectUTF8(fh.Name)
	utf8Valid2, utf8Require2 := detectUTF8(fh.Comment)
	switch {
	case fh.NonUTF8:
		fh.Flags &^= flagUTF8
	case (utf8Require1 || utf8Require2) && (utf8Valid1 && utf8Valid2):
		fh.Flags |= flagUTF8
	}
	fh.Flags |= flagDataDescriptor
	fh.CreatorVersion = fh.CreatorVersion&0xff00 | zipVersion20
	fh.ReaderVersion = zipVersion20
	var dosDate, dosTime uint16
	if !fh.Modified.IsZero() {
		// The same MS-DOS time and Info-ZIP extended timestamp as archive/zip, so that
		// both produce the same bytes.
		dosDate, dosTime = timeToMsDosTime(fh.Modified)
		var b [9]byte
		binary.LittleEndian.PutUint16(b[0:], extTimeExtraID)
		binary.LittleEndian.PutUint16(b[2:], 5)
		b[4] = 1 // modification time only
		binary.LittleEndian.PutUint32(b[5:], uint32(fh.Modified.Unix()))
		fh.Extra = append(fh.Extra, b[:]...)
	}
	if len(fh.Name) > math.MaxUint16 || len(fh.Extra) > math.MaxUint16-28 || len(fh.Comment) > math.MaxUint16 {
		return nil, fmt.Errorf("fastzip: %.40s…: name, comment or extra field too long", fh.Name)
	}

	e := &entryWriter{w: w, fh: fh, dosDate: dosDate, dosTime: dosTime, offset: uint64(w.out.count), crc: crc32.NewIEEE()}
	var hdr [fileHeaderLen]byte
	b := hdr[:]
	le := binary.LittleEndian
	le.PutUint32(b[0:], fileHeaderSignature)
	le.PutUint16(b[4:], fh.ReaderVersion)
	le.PutUint16(b[6:], fh.Flags)
	le.PutUint16(b[8:], fh.Method)
	le.PutUint16(b[10:], dosTime)
	le.PutUint16(b[12:], dosDate)
	// CRC and sizes (bytes 14-25) stay zero: they follow the data in its descriptor.
	le.PutUint16(b[26:], uint16(len(fh.Name)))
	le.PutUint16(b[28:], uint16(len(fh.Extra)))
	if err := w.write(hdr[:], []byte(fh.Name), fh.Extra); err != nil {
		return nil, err
	}

	e.comp = &countWriter{w: w.out}
	if fh.Method == zip.Deflate {
		fw, err := newWriter(e.comp)
		if err != nil {
			return nil, w.fail(fmt.Errorf("fastzip: %s: %w", fh.Name, err))
		}
		e.deflate = fw
		e.raw = &countWriter{w: fw}
	} else {
		e.raw = e.comp
	}
	w.last = e
	return e, nil
}

// Close finishes the last entry and writes the central directory and end records (ZIP64
// ones when there are 65,535 entries or more, or the directory lies beyond 4 GiB). It
// releases the temporary file whatever happens and does not close the underlying writer.
// After a failed write it returns that failure: such an archive cannot be finished.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("fastzip: writer closed twice")
	}
	err := w.finishEntry()
	w.closed = true
	if err == nil {
		err = w.writeDirectory()
	}
	if rerr := w.release(); err == nil {
		err = rerr
	}
	return err
}

// Abort releases the temporary file of an archive that will not be finished. It may be
// called at any time, also after Close; the output is left as it is.
func (w *Writer) Abort() {
	if w.err == nil {
		w.err = errors.New("fastzip: archive aborted")
	}
	w.closed = true
	w.release()
}

func (w *Writer) release() error {
	if w.dir == nil {
		return nil
	}
	err := w.dir.Close()
	if w.dirName != "" {
		if rerr := os.Remove(w.dirName); err == nil {
			err = rerr
		}
	}
	w.dir = nil
	if err != nil {
		return fmt.Errorf("fastzip: release central directory file: %w", err)
	}
	return nil
}

func (w *Writer) writeDirectory() error {
	if err := w.dirBuf.Flush(); err != nil {
		return w.fail(fmt.Errorf("fastzip: write central directory file: %w", err))
	}
	if _, err := w.dir.Seek(0, io.SeekStart); err != nil {
		return w.fail(fmt.Errorf("fastzip: read central directory file: %w", err))
	}
	start := uint64(w.out.count)
	n, err := io.Copy(w.out, w.dir)
	if err != nil {
		return w.fail(fmt.Errorf("fastzip: copy central directory: %w", err))
	}
	if uint64(n) != w.dirSize {
		return w.fail(fmt.Errorf("fastzip: central directory file holds %d bytes, want %d", n, w.dirSize))
	}
	end := uint64(w.out.count)
	records, size, offset := w.entries, end-start, start
	le := binary.LittleEndian
	if records >= math.MaxUint16 || size >= zip64Limit || offset >= zip64Limit {
		var b [directory64EndLen + directory64LocLen]byte
		le.PutUint32(b[0:], directory64EndSignature)
		le.PutUint64(b[4:], directory64EndLen-12) // the record's length after this field
		le.PutUint16(b[12:], zipVersion45)        // made by
		le.PutUint16(b[14:], zipVersion45)        // needed to extract
		// Disk numbers (bytes 16-23) are zero: one disk.
		le.PutUint64(b[24:], records) // on this disk
		le.PutUint64(b[32:], records) // in total
		le.PutUint64(b[40:], size)
		le.PutUint64(b[48:], offset)
		l := b[directory64EndLen:]
		le.PutUint32(l[0:], directory64LocSignature)
		le.PutUint32(l[4:], 0) // disk of the ZIP64 end record
		le.PutUint64(l[8:], end)
		le.PutUint32(l[16:], 1) // disks in total
		if err := w.write(b[:]); err != nil {
			return err
		}
		// All ones in the classic record send readers to the ZIP64 one.
		records, size, offset = math.MaxUint16, math.MaxUint32, math.MaxUint32
	}
	var b [directoryEndLen]byte
	le.PutUint32(b[0:], directoryEndSignature)
	le.PutUint16(b[8:], uint16(records))
	le.PutUint16(b[10:], uint16(records))
	le.PutUint32(b[12:], uint32(size))
	le.PutUint32(b[16:], uint32(offset))
	// Comment length (bytes 20-21) is zero.
	if err := w.write(b[:]); err != nil {
		return err
	}
	if err := w.out.w.(*bufio.Writer).Flush(); err != nil {
		return w.fail(fmt.Errorf("fastzip: write archive: %w", err))
	}
	return nil
}

// finishEntry ends the entry being written: its data descriptor goes to the output and its
// central directory record to the temporary file.
func (w *Writer) finishEntry() error {
	if w.err != nil {
		return w.err
	}
	e := w.last
	if e == nil {
		return nil
	}
	w.last = nil
	e.closed = true
	if e.deflate != nil {
		if err := e.deflate.Close(); err != nil {
			return w.fail(fmt.Errorf("fastzip: %s: %w", e.fh.Name, err))
		}
	}
	fh := e.fh
	fh.CRC32 = e.crc.Sum32()
	fh.CompressedSize64 = uint64(e.comp.count)
	fh.UncompressedSize64 = uint64(e.raw.count)
	big := fh.CompressedSize64 >= zip64Limit || fh.UncompressedSize64 >= zip64Limit
	if big {
		fh.ReaderVersion = zipVersion45
	}

	le := binary.LittleEndian
	var dd [dataDescriptor64Len]byte
	le.PutUint32(dd[0:], dataDescriptorSignature)
	le.PutUint32(dd[4:], fh.CRC32)
	n := dataDescriptorLen
	if big {
		le.PutUint64(dd[8:], fh.CompressedSize64)
		le.PutUint64(dd[16:], fh.UncompressedSize64)
		n = dataDescriptor64Len
	} else {
		le.PutUint32(dd[8:], uint32(fh.CompressedSize64))
		le.PutUint32(dd[12:], uint32(fh.UncompressedSize64))
	}
	if err := w.write(dd[:n]); err != nil {
		return err
	}

	var hdr [directoryHeaderLen]byte
	b := hdr[:]
	le.PutUint32(b[0:], directoryHeaderSignature)
	le.PutUint16(b[4:], fh.CreatorVersion)
	le.PutUint16(b[6:], fh.ReaderVersion)
	le.PutUint16(b[8:], fh.Flags)
	le.PutUint16(b[10:], fh.Method)
	le.PutUint16(b[12:], e.dosTime)
	le.PutUint16(b[14:], e.dosDate)
	le.PutUint32(b[16:], fh.CRC32)
	extra := fh.Extra
	if big || e.offset >= zip64Limit {
		// Both sizes and the offset go into a ZIP64 extra field, the classic fields then
		// hold all ones (the offset's only when it does not fit), as archive/zip writes it.
		le.PutUint32(b[20:], math.MaxUint32)
		le.PutUint32(b[24:], math.MaxUint32)
		var z [28]byte
		le.PutUint16(z[0:], zip64ExtraID)
		le.PutUint16(z[2:], 24)
		le.PutUint64(z[4:], fh.UncompressedSize64)
		le.PutUint64(z[12:], fh.CompressedSize64)
		le.PutUint64(z[20:], e.offset)
		extra = append(extra[:len(extra):len(extra)], z[:]...)
	} else {
		le.PutUint32(b[20:], uint32(fh.CompressedSize64))
		le.PutUint32(b[24:], uint32(fh.UncompressedSize64))
	}
	le.PutUint16(b[28:], uint16(len(fh.Name)))
	le.PutUint16(b[30:], uint16(len(extra)))
	le.PutUint16(b[32:], uint16(len(fh.Comment)))
	// Disk number start and internal attributes (bytes 34-37) are zero.
	le.PutUint32(b[38:], fh.ExternalAttrs)
	if e.offset >= zip64Limit {
		le.PutUint32(b[42:], math.MaxUint32)
	} else {
		le.PutUint32(b[42:], uint32(e.offset))
	}
	for _, p := range [][]byte{hdr[:], []byte(fh.Name), extra, []byte(fh.Comment)} {
		if _, err := w.dirBuf.Write(p); err != nil {
			return w.fail(fmt.Errorf("fastzip: write central directory file: %w", err))
		}
		w.dirSize += uint64(len(p))
	}
	w.entries++
	return nil
}

// write writes to the archive; a failure makes the Writer unusable.
func (w *Writer) write(parts ...[]byte) error {
	for _, p := range parts {
		if _, err := w.out.Write(p); err != nil {
			return w.fail(fmt.Errorf("fastzip: write archive: %w", err))
		}
	}
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// entryWriter receives one entry's content.
type entryWriter struct {
	w       *Writer
	fh      *zip.FileHeader
	dosDate uint16 // Modified in MS-DOS form
	dosTime uint16
	offset  uint64
	crc     hash.Hash32
	raw     *countWriter // uncompressed bytes in
	comp    *countWriter // compressed bytes out
	deflate io.WriteCloser
	closed  bool
}

func (e *entryWriter) Write(p []byte) (int, error) {
	if e.closed {
		return 0, errors.New("fastzip: write to a finished entry")
	}
	if e.w.err != nil {
		return 0, e.w.err
	}
	e.crc.Write(p)
	n, err := e.raw.Write(p)
	if err != nil {
		return n, e.w.fail(fmt.Errorf("fastzip: %s: %w", e.fh.Name, err))
	}
	return n, nil
}

type countWriter struct {
	w     io.Writer
	count int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.count += int64(n)
	return n, err
}

// detectUTF8 is archive/zip's: whether s is valid UTF-8 and whether it needs the UTF-8
// flag (it is not plain ASCII that every legacy code page reads the same).
func detectUTF8(s string) (valid, require bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0x20 || r > 0x7d || r == 0x5c {
			if !utf8.ValidRune(r) || (r == utf8.RuneError && size == 1) {
				return false, false
			}
			require = true
		}
	}
	return true, require
}

func timeToMsDosTime(t time.Time) (date, clock uint16) {
	return uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9),
		uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
}
