//go:build unix

package archiver

import (
	"fmt"
	"syscall"
)

// allocArena returns n bytes of zeroed memory outside the Go heap, and a function that
// releases it.
//
// The sort arenas are most of a run's memory and live for the whole read phase. On the Go
// heap they would count as live data, and the collector, which lets the heap grow to twice
// the live data before collecting (GOGC=100), would let garbage from decoding pile up to
// the size of the arenas again: a 256 MiB budget would cost over 500 MiB. Off the heap,
// the collector paces itself on the small working set, and resident memory stays close to
// the budget. Pages are only resident once touched.
func allocArena(n int) ([]byte, func(), error) {
	if n == 0 {
		return nil, func() {}, nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate %d bytes for the sort: %w", n, err)
	}
	adviseHugePages(b) // hugepages_linux.go
	return b, func() { syscall.Munmap(b) }, nil
}
