package attachtest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/model"
)

// RunTask runs an export task of the fixture's day for org in format, encoded by
// newEncoder, in the test's goroutine: the task's status, and its result's bytes when it
// completed.
func (f *Fixture) RunTask(t *testing.T, org, format string, newEncoder exporttask.NewEncoder) (*exporttask.Status, []byte) {
	t.Helper()
	e := &exporttask.Engine{
		Store:     f.Store,
		Directory: func(context.Context) (*model.Directory, error) { return f.Directory, nil },
		Formats:   map[string]exporttask.NewEncoder{format: newEncoder},
		Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
		TempDir:   t.TempDir(),
	}
	ctx := context.Background()
	id, err := e.Create(ctx, org, "test", exporttask.Request{From: Date, To: Date, Format: format})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Execute(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != exporttask.StateCompleted {
		return st, nil
	}
	_, rc, err := e.OpenResult(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return st, b
}

// CheckStreamed fails the test unless a captured file is streamed into a production,
// never held: it writes exporttest's fixture with an encoder newEncoder makes, its
// attachments from a Big, and the bytes allocated with files of size bytes must exceed
// those with 1 KiB ones by less than 2 MiB (counted with runtime.MemStats.TotalAlloc). It
// fails too when the fixture links no file, since then it measures nothing.
func CheckStreamed(t *testing.T, size int64, newEncoder func(io.Writer, *Big) (exporttask.Encoder, error)) {
	t.Helper()
	days := exporttest.Fixture(t)
	var all []model.Event
	for _, d := range days {
		all = append(all, d.Events...)
	}
	alloc := func(size int64) (uint64, int) {
		big := NewBig(size, all)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := newEncoder(io.Discard, big)
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
	// The least of three runs each: what else the process allocates meanwhile (the race
	// detector, the runtime) only ever adds, and varied by about 1 MiB from run to run,
	// which made a 2 MiB margin fail now and then under -race. A file held in memory
	// costs its whole size (48 or 96 MiB), far above the 4 MiB margin.
	least := func(size int64) (uint64, int) {
		best, opened := alloc(size)
		for range 2 {
			if n, _ := alloc(size); n < best {
				best = n
			}
		}
		return best, opened
	}
	small, opened := least(1 << 10)
	if opened == 0 {
		t.Fatal("the fixture links no file: the test measures nothing")
	}
	large, _ := least(size)
	mib := fmt.Sprintf("%d MiB", size>>20)
	t.Logf("allocated %d bytes with 1 KiB files, %d with %s files (%d packed)", small, large, mib, opened)
	if large > small+4<<20 {
		t.Fatalf("%s attachments allocated %d bytes more than 1 KiB ones: the file is held in memory", mib, large-small)
	}
}
