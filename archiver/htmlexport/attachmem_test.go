package htmlexport

import (
	"io"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentsStreamed: a captured file is streamed into the production, never held:
// the bytes allocated to write the fixture with a 96 MiB attachment exceed those with a
// 1 KiB one by less than 2 MiB (counted with runtime.MemStats.TotalAlloc).
func TestAttachmentsStreamed(t *testing.T) {
	attachtest.CheckStreamed(t, 96<<20, func(w io.Writer, big *attachtest.Big) (exporttask.Encoder, error) {
		opt := testOptions(t)
		opt.Attachments = big
		return NewWriter(w, opt)
	})
	reliability.Record(t, "operations", "html export including a 96 MiB captured file", reliability.Kept,
		"streamed into the archive: bytes allocated do not grow with the file's size (under 2 MiB more than for 1 KiB)")
}
