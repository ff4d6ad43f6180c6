package archiver

// SortArenaBytes is the memory the sorters hold outside the Go heap now, for the tests
// that count it.
func SortArenaBytes() int64 { return sortArenaBytes.Load() }
