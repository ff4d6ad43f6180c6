package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/crashpoint"
)

// fsGroup resolves fs.group to a gid; nil when it is not set. An unknown group is a
// configuration error.
func (e *env) fsGroup() (*int, error) {
	g := e.cfg.FS.Group
	if g == "" {
		return nil, nil
	}
	if n, err := strconv.Atoi(g); err == nil {
		return &n, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return nil, usagef("fs.group: %v", err)
	}
	n, err := strconv.Atoi(grp.Gid)
	if err != nil {
		return nil, usagef("fs.group %s: gid %q is not numeric", g, grp.Gid)
	}
	return &n, nil
}

// fsOptions are the folder store's options of the configuration.
func (e *env) fsOptions() (fsstore.Options, error) {
	g, err := e.fsGroup()
	return fsstore.Options{Group: g}, err
}

// output is a command's -o file while it is written: under a hidden temporary name beside
// path (.NAME.partial-*), given its final name only once whole and synced. A command
// killed half-way (SIGKILL, SIGHUP from a closed terminal, a power loss) used to leave
// the first megabytes of an export under the name asked for, which looked like the
// whole day; now it leaves a file whose name says it is partial.
type output struct {
	*os.File
	path string    // the name asked for
	w    io.Writer // File, through the crash point output.write
}

// createOutput starts the new file path (never replacing one) for a command's output,
// readable by the owner only (0600), or also by fs.group (0640), whatever the umask: an
// export is as confidential as the archive it comes from. The caller writes it, then
// calls commit, or abort on any failure.
func (e *env) createOutput(path string) (*output, error) {
	g, err := e.fsGroup()
	if err != nil {
		return nil, err
	}
	if g == nil {
		return newOutput(path, 0o600, nil)
	}
	return newOutput(path, 0o640, g)
}

// newOutput starts the new file path with mode (whatever the umask), given to group gid
// when it is set.
func newOutput(path string, mode os.FileMode, gid *int) (*output, error) {
	// Refused before anything is written, rather than after the whole export.
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("open %s: %w", path, os.ErrExist)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // it names the temporary file, not the one asked for
		}
		return nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	if gid != nil {
		if err = f.Chown(-1, *gid); err != nil {
			err = fmt.Errorf("%s: give to group %d (fs.group; the user must be a member): %w", path, *gid, err)
		}
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	o := &output{File: f, path: path, w: crashpoint.Writer("output.write", f)}
	if err != nil {
		return nil, errors.Join(err, o.abort())
	}
	return o, nil
}

// Write writes to the file; its errors name the file asked for, not the temporary name.
func (o *output) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		err = &fs.PathError{Op: "write", Path: o.path, Err: err}
	}
	return n, err
}

// commit syncs the file and gives it its final name, which it never takes from a file
// made there meanwhile (a hard link fails on an existing name; a rename would replace it).
func (o *output) commit() error {
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = o.link()
	}
	if err != nil {
		os.Remove(o.Name())
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s was made by something else while the output was written; it is left as it is, the output is not kept: %w", o.path, err)
		}
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	if err := os.Remove(o.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(o.path))
}

// linkFile is os.Link; a test makes it fail as on a file system without hard links.
var linkFile = os.Link

// link gives the whole file its name. A file system without hard links (FAT on a USB
// stick, some network shares) gets a rename once the name is seen free: between the look
// and the rename another writer could take the name, a window the link closes elsewhere.
func (o *output) link() error {
	err := linkFile(o.Name(), o.path)
	if err == nil || errors.Is(err, os.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(o.path); !errors.Is(serr, os.ErrNotExist) {
		return err
	}
	if rerr := os.Rename(o.Name(), o.path); rerr != nil {
		return errors.Join(err, rerr)
	}
	return nil
}

// abort closes and removes the unfinished file.
func (o *output) abort() error {
	o.Close()
	if err := os.Remove(o.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// writeOutput writes b to the new file path as createOutput makes it; a failed write
// leaves no file.
func (e *env) writeOutput(path string, b []byte) error {
	o, err := e.createOutput(path)
	if err != nil {
		return err
	}
	if _, err := o.Write(b); err != nil {
		return errors.Join(err, o.abort())
	}
	return o.commit()
}
