package exporttask_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// gauge reads a gauge without labels from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// TestScanReadsOnlyOpenTasks: every minute each replica looks in the store for tasks
// without an outcome (made on another replica, or left by one that died). It lists the
// open-task index and the open tasks' own objects, never every task ever made: with 12
// finished tasks in the store and one queued on another replica, the scan queues that one
// and lists a number of keys that does not grow with the finished ones.
func TestScanReadsOnlyOpenTasks(t *testing.T) {
	const finished = 12
	ctx := context.Background()
	f := newFixture(t)
	a := f.engine(t, nil)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	for range finished {
		if st, _ := run(t, a, req); st.State != exporttask.StateCompleted {
			t.Fatalf("task %s", st.State)
		}
		f.clock.Add(time.Minute)
	}
	queued, err := a.Create(ctx, acme, "test", req) // on replica a; b must find it
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: f.store}
	b := f.engine(t, cs)
	reg := prometheus.NewPedanticRegistry()
	b.Register(reg)
	if err := b.Scan(ctx); err != nil { // the first scan of a process may backfill
		t.Fatal(err)
	}
	cs.take()
	b2 := f.engine(t, cs)
	reg2 := prometheus.NewPedanticRegistry()
	b2.Register(reg2)
	if err := b2.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if q := gauge(t, reg, "chatvault_export_tasks_queued"); q != 1 {
		t.Fatalf("replica b queued %v tasks, want the 1 open one (%s)", q, queued)
	}
	if err := b2.Scan(ctx); err != nil { // a second scan, counted below with the first
		t.Fatal(err)
	}
	opened, listed, keys := cs.take()
	t.Logf("two scans with 1 open task among %d finished: %d objects opened, %d keys listed", finished, opened, listed)
	if q := gauge(t, reg2, "chatvault_export_tasks_queued"); q != 1 {
		t.Fatalf("replica b2 queued %v tasks, want 1", q)
	}
	// The open task: its index entry, its request and claim-free objects (request.json),
	// read once; nothing of the finished tasks.
	if listed > 2*3 || opened > 2 {
		t.Fatalf("two scans listed %d keys and opened %d objects, want at most 6 and 2:\n%s", listed, opened, strings.Join(keys, "\n"))
	}
	reliability.Record(t, "operations", "export task scan (every minute) with 1 open task among 12 finished", reliability.Kept,
		"counted: the scan lists the open-task index and the open task's objects only, and queues it; the finished tasks are not listed")
}

// TestOpenIndexStaleEntries: an open-task entry whose task has its outcome (the deletion
// after the outcome failed) is deleted by the next scan; one whose task has no request
// (its process stopped between the two writes) is kept for an hour, in case the request
// is on its way, then deleted. Neither is queued.
func TestOpenIndexStaleEntries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	done, _ := run(t, e, req)
	put := func(id string) string {
		t.Helper()
		key := "tasks/open/" + acme + "/" + id
		body := `{"createdAt":"` + f.clock.Now().UTC().Format(time.RFC3339Nano) + `"}`
		if err := f.store.Create(ctx, key, strings.NewReader(body), int64(len(body)), sha256.Sum256([]byte(body)), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	finishedEntry := put(done.TaskID)
	noRequest := put("5f0c8d1e-4b7a-4c2e-9d3f-0a1b2c3d4e5f")
	scan := func() float64 {
		t.Helper()
		b := f.engine(t, nil)
		reg := prometheus.NewPedanticRegistry()
		b.Register(reg)
		if err := b.Scan(ctx); err != nil {
			t.Fatal(err)
		}
		return gauge(t, reg, "chatvault_export_tasks_queued")
	}
	if q := scan(); q != 0 {
		t.Fatalf("queued %v", q)
	}
	if exists(t, f.store, finishedEntry) || !exists(t, f.store, noRequest) {
		t.Fatal("want the finished task's entry deleted, the fresh one without a request kept")
	}
	f.clock.Add(exporttask.OrphanGrace)
	if q := scan(); q != 0 {
		t.Fatalf("queued %v", q)
	}
	if exists(t, f.store, noRequest) {
		t.Fatal("an entry without a request an hour on should be deleted")
	}
	reliability.Record(t, "crash", "process stops between an export task's open-index entry and its request (or its outcome and the entry's deletion)", reliability.Recovered,
		"the scan deletes the entry: at once when the task has its outcome, an hour on when it has no request; nothing is queued")
}
