package exporttask_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestJanitorRetentionLowered: an operator lowers exports.retention (30 days to 7, a new
// legal requirement) and restarts serve. The status already says each result expires 7
// days after its task completed; the janitor must delete it then too, not when the
// expiry index entry written under the old retention comes due (day 30). Raising it keeps
// results longer, as before.
func TestJanitorRetentionLowered(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	e.Retention = 30 * 24 * time.Hour
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	result := archiver.TasksPrefix + acme + "/" + st.TaskID + "/result-" + st.Result.SHA256 + ".jsonl.gz"
	// The grace turn: the task's next turn goes in the index at day 30.
	f.clock.Add(2 * time.Hour)
	if n, err := e.Expire(ctx); n != 0 || err != nil {
		t.Fatalf("Expire after the grace: %d, %v", n, err)
	}

	// Day 6, restarted with 7 days: nothing due yet.
	f.clock.Add(6 * 24 * time.Hour)
	e = f.engine(t, nil)
	e.Retention = 7 * 24 * time.Hour
	if n, err := e.Expire(ctx); n != 0 || err != nil {
		t.Fatalf("Expire on day 6 with 7 days' retention: %d, %v", n, err)
	}
	if !exists(t, f.store, result) {
		t.Fatal("result deleted before the new retention")
	}
	// Day 8: past the new retention.
	f.clock.Add(2 * 24 * time.Hour)
	got, _ := e.Status(ctx, acme, st.TaskID)
	if got.State != exporttask.StateExpired {
		t.Fatalf("status on day 8: %s, want expired", got.State)
	}
	if n, err := e.Expire(ctx); n != 1 || err != nil {
		t.Fatalf("Expire on day 8 with 7 days' retention: %d, %v; want the result deleted", n, err)
	}
	if exists(t, f.store, result) {
		t.Fatal("result still stored on day 8, retention 7 days")
	}
	reliability.Record(t, "operations", "exports.retention lowered (30 days to 7) and serve restarted", reliability.Recovered,
		"results are deleted 7 days after their tasks completed, as their status says, not when the old retention's expiry entries come due")
}

// TestJanitorRetentionRaised: raised from 2 days to 10, a result is kept until day 10.
func TestJanitorRetentionRaised(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	e.Retention = 2 * 24 * time.Hour
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	result := archiver.TasksPrefix + acme + "/" + st.TaskID + "/result-" + st.Result.SHA256 + ".jsonl.gz"
	f.clock.Add(2 * time.Hour)
	if _, err := e.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	e = f.engine(t, nil)
	e.Retention = 10 * 24 * time.Hour
	for _, day := range []int{3, 9} {
		f.clock.Set(st.CompletedAt.Add(time.Duration(day) * 24 * time.Hour))
		if n, err := e.Expire(ctx); n != 0 || err != nil || !exists(t, f.store, result) {
			t.Fatalf("day %d with 10 days' retention: deleted %d, %v", day, n, err)
		}
	}
	f.clock.Set(st.CompletedAt.Add(10 * 24 * time.Hour))
	if n, err := e.Expire(ctx); n != 1 || err != nil || exists(t, f.store, result) {
		t.Fatalf("day 10: deleted %d, %v", n, err)
	}
}

// TestJanitorRetentionLoweredKeepsInFlightTurn: when the janitor visits every task of the
// index (no retention record), a task whose first turn was just written and whose outcome
// is not stored yet keeps its turn; dropping it would leave its result without one.
func TestJanitorRetentionLoweredKeepsInFlightTurn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	queued, err := e.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	due := f.clock.Now().UTC().Add(exporttask.OrphanGrace)
	entry := "tasks/expiry/" + due.Format("2006-01-02") + "/" + acme + "/" + queued + "." + due.Format("150405")
	if err := f.store.Create(ctx, entry, strings.NewReader(""), 0, sha256.Sum256(nil), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(t, f.store, "tasks/expiry-retention.json") {
		t.Fatal("no retention record after the run")
	}
	if !exists(t, f.store, entry) {
		t.Fatal("the turn of a task finishing right now was dropped")
	}
}
