//go:build unix && !linux

package archiver

// discardPages does nothing outside Linux, where MADV_DONTNEED may keep the pages' bytes
// (Darwin's does) and Go's syscall package has no madvise: the pages stay resident, as
// they were, which costs memory, not correctness.
func discardPages([]byte) {}
