package fsstore

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

var _ archiver.FolderLister = (*Store)(nil)

// ListFolders implements archiver.FolderLister: one read of the folder prefix names,
// keeping its sub-folders (the organizations of orgs/, say), without entering them. A
// folder whose objects are all gone (none is ever removed but tasks') may still be
// listed: its listing is then empty.
func (s *Store) ListFolders(ctx context.Context, prefix string, fn func(name string) error) error {
	dir, ok := strings.CutSuffix(prefix, "/")
	if !ok || dir == "" {
		return fmt.Errorf("fsstore: list folders of %q: not a folder (ends with '/')", prefix)
	}
	if err := archiver.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("fsstore: list folders: %w", err)
	}
	if err := checkTemp(dir); err != nil {
		return fmt.Errorf("fsstore: list folders: %w", err)
	}
	if err := s.checkHome(); err != nil {
		return fmt.Errorf("fsstore: list folders of %s: %w", prefix, err)
	}
	sub, err := s.root.OpenRoot(filepath.FromSlash(dir))
	if notExist(err) {
		return nil
	}
	if err != nil {
		if fi, serr := s.root.Lstat(filepath.FromSlash(dir)); serr == nil && !fi.IsDir() {
			return nil // an object: no folder below it
		}
		return fmt.Errorf("fsstore: list folders of %s: %w", prefix, err)
	}
	defer sub.Close()
	d, err := sub.Open(".")
	if err != nil {
		return fmt.Errorf("fsstore: list folders of %s: %w", prefix, err)
	}
	var names []string
	for {
		batch, err := d.Readdirnames(readDirBatch)
		if err == io.EOF {
			break
		}
		if err != nil {
			d.Close()
			return fmt.Errorf("fsstore: list folders of %s: %w", prefix, err)
		}
		for _, name := range batch {
			if strings.HasPrefix(name, tempPrefix) {
				continue
			}
			fi, err := sub.Lstat(name)
			if notExist(err) {
				continue
			}
			if err != nil {
				d.Close()
				return fmt.Errorf("fsstore: list folders of %s: %s: %w", prefix, name, err)
			}
			if fi.IsDir() {
				names = append(names, name)
			}
		}
		if len(batch) < readDirBatch {
			break
		}
	}
	d.Close()
	// In the order of their keys (name+"/"), as List and S3 give them: "a-b/" before "a/".
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(a+"/", b+"/") })
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(name); err != nil {
			return err
		}
	}
	return nil
}
