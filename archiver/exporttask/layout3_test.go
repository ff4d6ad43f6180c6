package exporttask_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// sealLayout seals the sample day as each of dates into a new folder store, in the given
// store layout, and each of empty as a day without any event (its partition closed and
// empty). It returns the store and the directory.
func sealLayout(t *testing.T, layout int, dates, empty []string) (*fsstore.Store, *model.Directory) {
	t.Helper()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, sealSampleDays(t, store, archiver.Options{Layout: layout}, dates, empty) // engine_test.go
}

// TestTaskOnLayout3: an export task over a range of a store in layout 3 (the manifest
// under its day, no export object for an empty day) gives the same result as over the
// same days in layout 2: without a filter, and by custodian (whose evidence includes the
// members the seals recorded: an inline chat index and its members object in layout 3).
// The range's empty day is read as the constant empty gzip, with no object opened for it.
func TestTaskOnLayout3(t *testing.T) {
	dates, empty := []string{"2026-11-20", "2026-11-22"}, []string{"2026-11-21"}
	requests := []exporttask.Request{
		{From: "2026-11-20", To: "2026-11-22", Format: "jsonl"},
		{From: "2026-11-20", To: "2026-11-22", Format: "jsonl", CustodianIDs: []string{"u-grace"}},
	}
	results := map[int][][]byte{}
	for _, layout := range []int{archiver.Layout2, archiver.Layout3} {
		store, dir := sealLayout(t, layout, dates, empty)
		cs := storetest.NewCounting(store)
		clock := scheduler.NewFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		e := &exporttask.Engine{
			Store:     cs,
			Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
			Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
			Now:       clock.Now,
			TempDir:   t.TempDir(),
		}
		for _, req := range requests {
			st, b := run(t, e, req)
			if st.State != exporttask.StateCompleted || len(st.SourceDays) != 3 || st.SourceDays[1].Records != 0 {
				t.Fatalf("layout %d, %+v: task %s (%s), source days %+v", layout, req, st.State, st.Error, st.SourceDays)
			}
			results[layout] = append(results[layout], gunzip(t, bytes.NewReader(b)))
		}
		day, _ := archiver.ParseDay(empty[0])
		m, err := ledger.Ledger{Store: store}.Latest(context.Background(), acme, day)
		if err != nil || m == nil {
			t.Fatalf("layout %d: the empty day's manifest: %v", layout, err)
		}
		if keyless := m.Data.Keyless(); keyless != (layout == archiver.Layout3) {
			t.Fatalf("layout %d: the empty day's data keyless %v", layout, keyless)
		}
	}
	for i, req := range requests {
		l2, l3 := results[archiver.Layout2][i], results[archiver.Layout3][i]
		if !bytes.Equal(l2, l3) || (i == 0 && len(l3) == 0) {
			t.Fatalf("%+v: layout 3 result (%d bytes) differs from layout 2's (%d bytes):\n%s\nwant\n%s", req, len(l3), len(l2), l3, l2)
		}
	}
	reliability.Record(t, "operations", "export task over a range of a layout-3 store with an empty day", reliability.Kept,
		"the same result as over the same days in layout 2, without filter and by custodian; the empty day, which has no export object, reads as the constant empty gzip")
}
