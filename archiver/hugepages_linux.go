package archiver

import (
	"runtime"
	"syscall"
	"unsafe"
)

// adviseHugePages asks Linux to back the arena b with 2 MiB pages where transparent huge
// pages are enabled for advised mappings (the "madvise" setting, the default of many
// distributions). The arenas are written once, front to back, during the read phase: with
// 4 KiB pages that is one page fault per 4 KiB, about 65,000 for a 256 MiB budget, and on
// a virtual machine each fault costs the hypervisor too. A profile of a 1M-event day put
// a tenth of the run's CPU in those faults (TestArenaAdvisedHugePages).
//
// Advice, not a promise: with huge pages off (or "never"), the arena works as before.
func adviseHugePages(b []byte) {
	if len(b) == 0 {
		return
	}
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}

// hugePage is the size of an x86-64 (and arm64 4K-granule) transparent huge page.
const hugePage = 2 << 20

// AdviseHeap asks Linux for huge pages under the next n bytes of the Go heap, the way
// adviseHugePages does for the arenas, and returns the range it advised.
//
// The runtime maps its heap a few MiB at a time as it grows and leaves those mappings
// unadvised (Go 1.21 stopped advising them). Under the "madvise" setting every fresh 4 KiB
// of heap is then a page fault of its own: about 20,000 in a 1M-event day, 0.3 s of its
// system time on the VM measured, where each fault cost 14 µs. So: one block of n bytes
// allocated first makes the runtime map n bytes at once; that mapping is advised, and the
// block is collected at once, leaving the mapping advised and free for the allocations that
// follow (the runtime hands out its lowest free pages first). The block is never written,
// so it costs no memory; what the heap later uses of it is faulted in 2 MiB at a time.
//
// Call it at the start of a process, before the heap has grown.
func AdviseHeap(n int) (beg, end uintptr) {
	if n < 2*hugePage {
		return 0, 0
	}
	b := make([]byte, n)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	beg, end = (p+hugePage-1)&^(hugePage-1), (p+uintptr(n))&^(hugePage-1)
	if beg < end {
		// By address, not through a slice of b: the advice is for the memory after b is
		// gone, and it touches no byte.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, syscall.MADV_HUGEPAGE)
	}
	runtime.KeepAlive(b)
	runtime.GC()
	return beg, end
}
