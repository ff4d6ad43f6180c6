//go:build !unix

package archiver

// allocArena returns n bytes on the Go heap where anonymous mappings are not available.
func allocArena(n int) ([]byte, func(), error) { return make([]byte, n), func() {}, nil }

// discardPages does nothing where arenas are on the Go heap.
func discardPages([]byte) {}
