package exporttask_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTaskJanitorAfterTheClockWentBack: serve's clock ran a year ahead for one janitor run
// (on a folder store, which cannot tell its clock), and was then stepped back. That run
// left the next one's first day of the expiry index a year ahead, and every later run
// listed the days from there to today, none: no orphan was swept and no result expired,
// in that process, for a year. A first day after today now lists the index from its
// start, as a process's first run does.
func TestTaskJanitorAfterTheClockWentBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	if _, err := e.Expire(ctx); err != nil { // the process's first run: the whole index
		t.Fatal(err)
	}
	f.clock.Add(365 * 24 * time.Hour)
	if _, err := e.Expire(ctx); err != nil { // a year ahead
		t.Fatal(err)
	}
	f.clock.Add(-365 * 24 * time.Hour) // stepped back
	done, _ := run(t, e, req)
	orphan := plantResult(t, f.store, acme, done.TaskID, "a dead replica's result")
	f.clock.Add(exporttask.OrphanGrace + time.Minute)
	if n, err := e.Expire(ctx); n != 1 || err != nil {
		t.Fatalf("Expire an orphan grace after the task finished, the clock stepped back: %d, %v; want the orphan", n, err)
	}
	if exists(t, f.store, orphan) {
		t.Fatal("the orphan is kept")
	}
	reliability.Record(t, "fault", "serve's clock a year ahead for one export task janitor run, then stepped back (folder store)", reliability.Recovered,
		"the next run lists the expiry index from its start: orphans are swept and results expire on time; before, the runs listed nothing (from a day a year ahead to today) for a year")
}
