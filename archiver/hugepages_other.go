//go:build unix && !linux

package archiver

// adviseHugePages does nothing outside Linux: madvise(MADV_HUGEPAGE) is Linux's.
func adviseHugePages([]byte) {}

// AdviseHeap does nothing outside Linux (see hugepages_linux.go).
func AdviseHeap(int) (beg, end uintptr) { return 0, 0 }
