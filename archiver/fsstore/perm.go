package fsstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Options configure a Store made by NewWithOptions.
type Options struct {
	// Group, when set (see Group), is the group that owns every file and folder the store
	// creates and may read them (fs.group); nil means the owner only.
	Group *int
}

// Group returns the Options.Group of gid.
func Group(gid int) *int { return &gid }

// perm is who may read what the store writes. The modes are set explicitly (chmod) after
// every creation, so the process's umask can neither open them up nor, with a group,
// close them to it.
type perm struct {
	gid   int
	group bool
}

func (p perm) objectMode() fs.FileMode {
	if p.group {
		return 0o440
	}
	return 0o400
}

func (p perm) dirMode() fs.FileMode {
	if p.group {
		return 0o750
	}
	return 0o700
}

// fileOps is what perm needs of a folder tree: the os package (outside the root) or an
// *os.Root (inside it).
type fileOps interface {
	Mkdir(name string, mode fs.FileMode) error
	Chmod(name string, mode fs.FileMode) error
	Chown(name string, uid, gid int) error
	Stat(name string) (fs.FileInfo, error)
}

type osOps struct{}

func (osOps) Mkdir(name string, mode fs.FileMode) error { return os.Mkdir(name, mode) }
func (osOps) Chmod(name string, mode fs.FileMode) error { return os.Chmod(name, mode) }
func (osOps) Chown(name string, uid, gid int) error     { return os.Chown(name, uid, gid) }
func (osOps) Stat(name string) (fs.FileInfo, error)     { return os.Stat(name) }

// set gives name the group (when there is one) and mode.
func (p perm) set(ops fileOps, name string, mode fs.FileMode) error {
	if p.group {
		if err := ops.Chown(name, -1, p.gid); err != nil {
			return fmt.Errorf("give %s to group %d (the process's user must be a member): %w", name, p.gid, err)
		}
	}
	if err := ops.Chmod(name, mode); err != nil {
		return fmt.Errorf("set mode of %s: %w", name, err)
	}
	return nil
}

// mkdirAll creates dir and the folders on its way that are missing, each with dirMode and
// the group. Folders that exist are left as they are: another writer made them (and sets
// their mode itself; until then Mkdir's mode, reduced by the umask, is only narrower).
func (p perm) mkdirAll(ops fileOps, dir string) error {
	if fi, err := ops.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", dir, errNotFolder)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := p.mkdirAll(ops, parent); err != nil {
			return err
		}
	}
	err := ops.Mkdir(dir, p.dirMode())
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := ops.Stat(dir); serr == nil && fi.IsDir() {
			return nil // made by a concurrent writer
		}
		return fmt.Errorf("%s: %w", dir, errNotFolder)
	}
	if err != nil {
		return err
	}
	return p.set(ops, dir, p.dirMode())
}

var errNotFolder = errors.New("not a folder")

// closeRoot gives the store's root folder the store's mode and group when this process
// owns it. A store made by an older version (0755, objects 0444) is thereby closed to
// everyone else: nothing below a folder they cannot traverse is reachable. A root that
// belongs to someone else (an auditor's account reading through the group) is left alone.
func (p perm) closeRoot(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !ownedByMe(fi) {
		return nil
	}
	if fi.Mode().Perm() == p.dirMode() && (!p.group || groupOf(fi) == p.gid) {
		return nil
	}
	return p.set(osOps{}, dir, p.dirMode())
}

// ErrNotOwner is returned (wrapped) by New and NewWithOptions when the process runs as
// root and another user owns the store's existing root folder.
var ErrNotOwner = errors.New("the store belongs to another user")

// NewWithOptions is New with Options: who besides the owner may read the store.
//
// Root is refused a store whose root folder another user owns (the service's user):
// root may write anywhere, and every object and folder it made would be root's, readable
// by root only, so that the owner could no longer read those days nor take the seal
// lease. Read-only commands (Open) may run as root.
func NewWithOptions(dir string, opt Options) (*Store, error) {
	p := perm{}
	if opt.Group != nil {
		p = perm{gid: *opt.Group, group: true}
	}
	fi, err := os.Stat(dir)
	created := errors.Is(err, fs.ErrNotExist)
	if err == nil {
		if uid, foreign := rootOnForeignStore(fi); foreign {
			return nil, fmt.Errorf("fsstore: %s is owned by uid %d and this process runs as root, whose files that user could not read: run as the store's owner (sudo -u USER chatvault …): %w", dir, uid, ErrNotOwner)
		}
	}
	if err := p.mkdirAll(osOps{}, filepath.Clean(dir)); err != nil {
		return nil, fmt.Errorf("fsstore: create root: %w", err)
	}
	if created {
		// The root's own name must survive a crash as much as the objects in it.
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("fsstore: create root: %w", err)
		}
	}
	if err := p.closeRoot(dir); err != nil {
		return nil, fmt.Errorf("fsstore: root: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open root: %w", err)
	}
	return &Store{root: root, perm: p, token: newToken(), device: deviceOf}, nil
}
