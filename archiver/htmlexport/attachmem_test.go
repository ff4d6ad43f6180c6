package htmlexport

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestAttachmentsStreamed: a captured file is streamed into the production, never held:
// the bytes allocated to write the fixture with a 96 MiB attachment exceed those with a
// 1 KiB one by less than 2 MiB (counted with runtime.MemStats.TotalAlloc).
func TestAttachmentsStreamed(t *testing.T) {
	days := exporttest.Fixture(t)
	var all []model.Event
	for _, d := range days {
		all = append(all, d.Events...)
	}
	alloc := func(size int64) (uint64, int) {
		big := attachtest.NewBig(size, all)
		opt := testOptions(t)
		opt.Attachments = big
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := NewWriter(io.Discard, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			if err := w.WriteDay(context.Background(), d.Manifest, d.Next()); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, big.Opened
	}
	small, opened := alloc(1 << 10)
	if opened == 0 {
		t.Fatal("the fixture links no file: the test measures nothing")
	}
	large, _ := alloc(96 << 20)
	t.Logf("allocated %d bytes with 1 KiB files, %d with 96 MiB files (%d packed)", small, large, opened)
	if large > small+2<<20 {
		t.Fatalf("96 MiB attachments allocated %d bytes more than 1 KiB ones: the file is held in memory", large-small)
	}
	reliability.Record(t, "operations", "html export including a 96 MiB captured file", reliability.Kept,
		"streamed into the archive: bytes allocated do not grow with the file's size (under 2 MiB more than for 1 KiB)")
}
