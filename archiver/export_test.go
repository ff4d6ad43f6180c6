package archiver

// SetLiveHeap makes the seal take live as the bytes of the Go heap in use beside it, as
// measured when its sort's memory is shared out, until the test ends.
func SetLiveHeap(t interface{ Cleanup(func()) }, live int64) {
	was := measureLiveHeap
	measureLiveHeap = func() int64 { return live }
	t.Cleanup(func() { measureLiveHeap = was })
}

// StoreSlots is storeSlots, for tests that bound the organizations storing at once.
const StoreSlots = storeSlots
