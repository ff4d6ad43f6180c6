//go:build unix

package tokenfile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// keepOwner gives f, a file root is creating beside the tokens file at path (its
// replacement or its lock file), the owner and group of that file, or of its folder when
// there is none yet: root's `token create` must leave the file serve's user reads, not
// take it. Other users cannot give files away and write only what they own anyway.
func keepOwner(f *os.File, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		fi, err = os.Stat(filepath.Dir(path))
	}
	if err != nil {
		return nil // the write itself reports what is wrong with the folder
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (st.Uid == 0 && st.Gid == 0) {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("tokenfile: give %s to uid %d (the tokens file's owner): %w", f.Name(), st.Uid, err)
	}
	return nil
}
