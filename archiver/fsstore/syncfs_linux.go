package fsstore

import (
	"os"

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
