package fsstore

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// canSyncFS is whether syncFS works here, and so whether batches defer anything.
const canSyncFS = true

// syncFS syncs the whole file system d is on: one flush of the disk for every object a
// batch wrote, however many.
func syncFS(d *os.File) error {
	return unix.Syncfs(int(d.Fd()))
}

// startWriteback asks the kernel to begin writing f's dirty pages to the disk and returns
// without waiting: by a batch's Flush most are written, while the seal went on with other
// organizations. It promises nothing about durability; Flush's syncfs does.
func startWriteback(f *os.File) error {
	return unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// deviceOf returns the device of the file system that holds dir, a folder below root.
func deviceOf(root *os.Root, dir string) (uint64, error) {
	fi, err := root.Stat(dir)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no device number", dir)
	}
	return st.Dev, nil
}
