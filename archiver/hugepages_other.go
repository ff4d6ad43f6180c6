//go:build unix && !linux

package archiver

// adviseHugePages does nothing outside Linux: madvise(MADV_HUGEPAGE) is Linux's.
func adviseHugePages([]byte) {}
