//go:build !unix

package archiver

// allocArena returns n bytes on the Go heap where anonymous mappings are not available.
func allocArena(n int) ([]byte, func(), error) { return make([]byte, n), func() {}, nil }

// discardPages does nothing where arenas are on the Go heap.
func discardPages([]byte) {}

// AdviseHeap does nothing where huge pages are not Linux's (see hugepages_linux.go).
func AdviseHeap(int) (beg, end uintptr) { return 0, 0 }
