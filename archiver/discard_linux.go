package archiver

import (
	"syscall"
	"unsafe"
)

// discardPages gives the whole pages inside b, which allocArena returned, back to the
// system: they read as zeros afterwards, and are resident again only once touched.
func discardPages(b []byte) {
	page := uintptr(syscall.Getpagesize())
	if len(b) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(b))) &^ (page - 1)
	if last <= first {
		return
	}
	// Advice, not a promise: when it fails the pages stay resident, as they were.
	_ = syscall.Madvise(b[first-start:last-start], syscall.MADV_DONTNEED)
}
