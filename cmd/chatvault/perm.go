package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/chatvault/chatvault/archiver/fsstore"
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

// createOutput creates the new file path (never replacing one) for a command's output,
// readable by the owner only (0600), or also by fs.group (0640), whatever the umask: an
// export is as confidential as the archive it comes from.
func (e *env) createOutput(path string) (*os.File, error) {
	g, err := e.fsGroup()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	mode := os.FileMode(0o600)
	if g != nil {
		mode = 0o640
		if err = f.Chown(-1, *g); err != nil {
			err = fmt.Errorf("%s: give to group %d (fs.group; the user must be a member): %w", path, *g, err)
		}
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if err != nil {
		f.Close()
		return nil, errors.Join(err, os.Remove(path))
	}
	return f, nil
}

// writeOutput writes b to the new file path as createOutput makes it, synced before it is
// closed; a failed write leaves no file.
func (e *env) writeOutput(path string, b []byte) error {
	f, err := e.createOutput(path)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}
