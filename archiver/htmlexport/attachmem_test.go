package htmlexport

import (
	"context"
	"io"
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
	attachtest.CheckStreamed(t, 96<<20, all, func(big *attachtest.Big) error {
		opt := testOptions(t)
		opt.Attachments = big
		w, err := NewWriter(io.Discard, opt)
		if err != nil {
			return err
		}
		for _, d := range days {
			if err := w.WriteDay(context.Background(), d.Manifest, d.Next()); err != nil {
				return err
			}
		}
		return w.Close()
	})
	reliability.Record(t, "operations", "html export including a 96 MiB captured file", reliability.Kept,
		"streamed into the archive: bytes allocated do not grow with the file's size (under 2 MiB more than for 1 KiB)")
}
