//go:build unix

package fsstore

import (
	"io/fs"
	"os"
	"syscall"
)

// geteuid is os.Geteuid, played by tests.
var geteuid = os.Geteuid

func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == geteuid()
}

func groupOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Gid)
	}
	return -1
}

// rootOnForeignStore returns the owner of the store's root when this process is root and
// another user owns it (see NewWithOptions).
func rootOnForeignStore(fi fs.FileInfo) (uid int, foreign bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || geteuid() != 0 || st.Uid == 0 {
		return 0, false
	}
	return int(st.Uid), true
}
