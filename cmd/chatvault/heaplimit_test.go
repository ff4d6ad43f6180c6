package main

import (
	"runtime/debug"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHeapLimitFollowsTheSort checks the Go runtime's soft memory limit that `run` keeps:
// the budget less what the sort's arenas hold outside the heap, so that the heap gets
// most of export.sortMemory once they are unmapped for the merge, and the S3 upload
// buffers on top.
func TestHeapLimitFollowsTheSort(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const mib = 1 << 20
	for _, tt := range []struct {
		store  string
		arenas int64
		want   int64
	}{
		{"/archive", 186 * mib, 50 * mib},
		{"/archive", 0, 236 * mib},
		{"s3://bucket/prefix", 0, 236*mib + 4*8*mib},
	} {
		cfg := config.Default()
		cfg.Store, cfg.Export.SortMemory, cfg.S3.PartSize = tt.store, 256*mib, 8*mib
		set := limitHeap(&env{cfg: cfg})
		if set == nil {
			t.Fatal("limitHeap returned no setter without GOMEMLIMIT")
		}
		set(tt.arenas)
		if got := debug.SetMemoryLimit(-1); got != tt.want {
			t.Errorf("%s, arenas %d MiB: heap limit %d MiB, want %d MiB (archiver.HeapLimit %d MiB)",
				tt.store, tt.arenas/mib, got/mib, tt.want/mib, archiver.HeapLimit(256*mib, tt.arenas)/mib)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "run: Go heap limit while the sort's arenas are mapped and after", reliability.Kept,
		"the budget less the arenas and 20 MiB for the binary (50 MiB of 256 while 186 MiB of arenas are mapped, 236 MiB once they are unmapped for the merge; S3 upload buffers on top), instead of a fixed quarter the directory alone could exceed")
}
