package eventlog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/chatvault/chatvault/archiver"
)

// ErrNotRegular is wrapped by the error of a directory snapshot that is not a regular
// file (after symlinks): a named pipe, a device such as /dev/zero, a folder.
var ErrNotRegular = errors.New("not a regular file")

// snapshotKind names the directory snapshot in an archiver.ObjectTooLargeError.
const snapshotKind = "directory snapshot"

// OpenSnapshot opens the directory snapshot at path for a reader that decodes it as it
// reads, within max bytes (archiver.DirectoryCap when max is 0 or less): the returned
// reader fails with an archiver.ObjectTooLargeError naming path once it has delivered
// max bytes and finds more. A snapshot that is not a regular file is refused before it
// is opened (ErrNotRegular): opening a named pipe with no writer blocks for ever (the
// command then ignored SIGTERM), and one with a writer, or a link to /dev/zero, never
// ends. One whose size is over max is refused unread.
func OpenSnapshot(path string, max int64) (io.ReadCloser, error) {
	f, err := openSnapshot(path, func() (fs.FileInfo, error) { return os.Stat(path) }, func() (*os.File, error) { return os.Open(path) })
	if err != nil {
		return nil, err
	}
	max = snapshotMax(max)
	fi, err := f.Stat()
	if err == nil && fi.Size() > max {
		f.Close()
		return nil, &archiver.ObjectTooLargeError{Key: path, Kind: snapshotKind, Cap: max}
	}
	return &cappedFile{f: f, left: max, name: path, max: max}, nil
}

// ReadSnapshot reads the directory snapshot at path whole, within max bytes
// (archiver.DirectoryCap when max is 0 or less), as OpenSnapshot refuses it: the folder
// counterpart of reading it from S3 (s3.ReadObject).
func ReadSnapshot(path string, max int64) ([]byte, error) {
	f, err := openSnapshot(path, func() (fs.FileInfo, error) { return os.Stat(path) }, func() (*os.File, error) { return os.Open(path) })
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return archiver.ReadCappedAs(f, path, snapshotKind, snapshotMax(max))
}

func snapshotMax(max int64) int64 {
	if max <= 0 {
		return archiver.DirectoryCap
	}
	return max
}

// openSnapshot stats the snapshot, refusing what is not a regular file before it is
// opened, then opens it and checks again what was opened (it may have been replaced in
// between).
func openSnapshot(name string, stat func() (fs.FileInfo, error), open func() (*os.File, error)) (*os.File, error) {
	fi, err := stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(name, fi)
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, notRegular(name, fi)
	}
	return f, nil
}

func notRegular(name string, fi fs.FileInfo) error {
	what := fi.Mode().Type().String()
	switch t := fi.Mode().Type(); {
	case t&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case t&fs.ModeDevice != 0:
		what = "a device"
	case t&fs.ModeDir != 0:
		what = "a folder"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s: %w (%s): the directory snapshot must be a file", name, ErrNotRegular, what)
}

// cappedFile is a snapshot file that fails once it has more than max bytes (a file that
// grows while it is read). It holds the file rather than embedding it: *os.File's
// WriteTo would let io.Copy read past the cap.
type cappedFile struct {
	f    *os.File
	left int64
	name string
	max  int64
}

func (c *cappedFile) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &archiver.ObjectTooLargeError{Key: c.name, Kind: snapshotKind, Cap: c.max}
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.f.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, &archiver.ObjectTooLargeError{Key: c.name, Kind: snapshotKind, Cap: c.max}
	}
	return n, err
}

func (c *cappedFile) Close() error { return c.f.Close() }
