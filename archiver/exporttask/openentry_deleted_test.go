package exporttask_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestStatusRestoresDeletedOpenEntry: the scans find queued tasks through the open-task
// index only. A queued task whose entry was deleted (an operator tidying tasks/open/) is
// run by no replica: the scans do not see it. The status read of such a task (its
// requester polls it) writes the entry again, and the next scan queues the task.
func TestStatusRestoresDeletedOpenEntry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.engine(t, nil)
	queued, err := a.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(ctx, "tasks/open/"+acme+"/"+queued); err != nil {
		t.Fatal(err)
	}
	b := f.engine(t, nil)
	reg := prometheus.NewPedanticRegistry()
	b.Register(reg)
	if err := b.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if q := gauge(t, reg, "chatvault_export_tasks_queued"); q != 0 {
		t.Fatalf("queued %v before the status read", q)
	}
	st, err := b.Status(ctx, acme, queued)
	if err != nil || st.State != exporttask.StateQueued {
		t.Fatalf("status: %v, %v", st, err)
	}
	if !exists(t, f.store, "tasks/open/"+acme+"/"+queued) {
		t.Fatal("the status read of a queued task without its open-task entry did not write it again")
	}
	if err := b.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if q := gauge(t, reg, "chatvault_export_tasks_queued"); q != 1 {
		t.Fatalf("after the status read, the scan queued %v tasks, want 1", q)
	}
	reliability.Record(t, "operations", "export task's open-task index entry deleted while it is queued", reliability.Recovered,
		"its next status read writes the entry again and the next scan queues it")
}
