package exporttask_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestTaskCostIsTheRange: creating and running an export task of two days reads what
// those two days need, whatever the organization's history around them. Counted, not
// timed: the same task over the same two days costs the same requests and lists the
// same keys in a store with two sealed days on each side of the range and in one with
// six on each side.
func TestTaskCostIsTheRange(t *testing.T) {
	const from, to = "2026-11-10", "2026-11-11"
	cost := func(t *testing.T, around int) storetest.Counts {
		t.Helper()
		dates := []string{from, to}
		for i := range around {
			dates = append(dates, fmt.Sprintf("2026-11-%02d", 9-i), fmt.Sprintf("2026-11-%02d", 12+i))
		}
		store, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		dir := sealSampleAs(t, store, nil, dates)
		cs := storetest.NewCounting(store)
		clock := scheduler.NewFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		e := &exporttask.Engine{
			Store:     cs,
			Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
			Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
			Now:       clock.Now,
			TempDir:   t.TempDir(),
		}
		st, _ := run(t, e, exporttask.Request{From: from, To: to, Format: "jsonl"})
		if st.State != exporttask.StateCompleted || len(st.SourceDays) != 2 {
			t.Fatalf("task %s (%s), %d source days", st.State, st.Error, len(st.SourceDays))
		}
		return cs.Counts()
	}
	few, many := cost(t, 2), cost(t, 6)
	t.Logf("task over 2 days: 2 days each side: %d requests %v; 6 days each side: %d requests %v",
		few.Requests(), few, many.Requests(), many)
	if many.Requests() != few.Requests() || many["Keys"] != few["Keys"] || many["Open"] != few["Open"] {
		t.Fatalf("the task's cost grew with the days outside its range: %v with 2 days each side, %v with 6", few, many)
	}
	reliability.Record(t, "operations", "export task over two days of a longer history", reliability.Kept,
		"counted: creating and running it costs the same requests and listed keys with two or six sealed days on each side of the range")
}
