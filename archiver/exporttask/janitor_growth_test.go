package exporttask_test

import (
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// countingStore counts what the janitor asks of the store: objects opened and keys
// listed. It deletes through the store it wraps.
type countingStore struct {
	archiver.Store
	mu             sync.Mutex
	opened, listed int
	keys           []string // listed keys, for the failure message
}

func (s *countingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()
	return s.Store.Open(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.Store.List(ctx, prefix, func(key string) error {
		s.mu.Lock()
		s.listed++
		s.keys = append(s.keys, key)
		s.mu.Unlock()
		return fn(key)
	})
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	return s.Store.(archiver.Deleter).Delete(ctx, key)
}

func (s *countingStore) take() (opened, listed int, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	opened, listed, keys = s.opened, s.listed, s.keys
	s.opened, s.listed, s.keys = 0, 0, nil
	return opened, listed, keys
}

// TestJanitorReadsOnlyDueTasks: the hourly janitor reads only the tasks whose turn has
// come (an hour after they finished, for orphans; at retention, for the result), through
// the expiry index, never every task ever made. Counted, not timed: with 12 finished
// tasks in the store, an hourly run with nothing due opens nothing and lists at most a
// few keys; the run at retention reads those tasks and deletes their results.
func TestJanitorReadsOnlyDueTasks(t *testing.T) {
	const tasks = 12
	ctx := context.Background()
	f := newFixture(t)
	cs := &countingStore{Store: f.store}
	e := f.engine(t, cs)
	e.Retention = 48 * time.Hour
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	for range tasks {
		if st, _ := run(t, e, req); st.State != exporttask.StateCompleted {
			t.Fatalf("task %s", st.State)
		}
		f.clock.Add(time.Minute)
	}
	// The first run after the grace handles every task once (orphans).
	f.clock.Add(exporttask.OrphanGrace)
	if _, err := e.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	cs.take()
	// Hourly runs with nothing due.
	for hour := range 3 {
		f.clock.Add(time.Hour)
		if n, err := e.Expire(ctx); n != 0 || err != nil {
			t.Fatalf("Expire: %d, %v", n, err)
		}
		opened, listed, keys := cs.take()
		t.Logf("hourly run %d with nothing due, %d finished tasks: %d objects opened, %d keys listed", hour+1, tasks, opened, listed)
		if opened != 0 || listed > 2 {
			t.Fatalf("a run with nothing due opened %d objects and listed %d keys, want 0 and at most 2:\n%s",
				opened, listed, strings.Join(keys, "\n"))
		}
	}
	// At retention, every result goes: the run reads those tasks, and only them.
	f.clock.Add(e.Retention)
	n, err := e.Expire(ctx)
	if n != tasks || err != nil {
		t.Fatalf("Expire at retention: %d, %v; want %d results deleted", n, err, tasks)
	}
	opened, listed, _ := cs.take()
	t.Logf("run at retention: %d results deleted, %d objects opened, %d keys listed", n, opened, listed)
	// Then nothing is due, ever: the index holds nothing more of them.
	f.clock.Add(time.Hour)
	if n, err := e.Expire(ctx); n != 0 || err != nil {
		t.Fatalf("Expire after retention: %d, %v", n, err)
	}
	if opened, listed, keys := cs.take(); opened != 0 || listed > 2 {
		t.Fatalf("after retention a run opened %d objects and listed %d keys:\n%s", opened, listed, strings.Join(keys, "\n"))
	}
	reliability.Record(t, "operations", "hourly export-task janitor over 12 finished tasks, nothing due", reliability.Kept,
		"counted: the run opens no object and lists at most 2 keys (the expiry index's due days), not every task ever made; at retention it reads the due tasks and deletes their results")
}

// TestJanitorBackfillsTasksMadeBeforeTheIndex: tasks finished by a release without the
// expiry index have no entry. The first janitor run of a release with it lists every task
// once, gives each finished one an entry and records that it did; the results then expire
// as before, and later processes read only that record. An entry whose task has no
// outcome (a process stopped between the two) is dropped, and the task's results kept.
func TestJanitorBackfillsTasksMadeBeforeTheIndex(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	old := f.engine(t, nil)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	for range 3 {
		if st, _ := run(t, old, req); st.State != exporttask.StateCompleted {
			t.Fatalf("task %s", st.State)
		}
	}
	queued, err := old.Create(ctx, acme, "test", req)
	if err != nil {
		t.Fatal(err)
	}
	pending := plantResult(t, f.store, acme, queued, "written, completed.json not yet")
	// The release before the index wrote no entries.
	d := f.store
	var entries []string
	if err := d.List(ctx, "tasks/expiry/", func(k string) error { entries = append(entries, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("entries after 3 finished tasks: %v", entries)
	}
	for _, k := range entries {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// An entry a stopped process left for the queued task, due now.
	f.clock.Add(60 * 24 * time.Hour) // past the default retention
	now := f.clock.Now().UTC()
	stray := "tasks/expiry/" + now.Format("2006-01-02") + "/" + acme + "/" + queued + "." + now.Format("150405")
	if err := d.Create(ctx, stray, strings.NewReader(""), 0, sha256.Sum256(nil), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if n, err := f.engine(t, nil).Expire(ctx); n != 3 || err != nil {
		t.Fatalf("first run with the index: %d, %v; want the 3 results deleted", n, err)
	}
	if !exists(t, f.store, "tasks/expiry-backfill.json") {
		t.Fatal("no backfill record")
	}
	if exists(t, f.store, stray) || !exists(t, f.store, pending) {
		t.Fatal("the queued task's stray entry should be gone, its result kept")
	}
	cs := &countingStore{Store: f.store}
	f.clock.Add(time.Hour)
	if n, err := f.engine(t, cs).Expire(ctx); n != 0 || err != nil {
		t.Fatalf("a later process: %d, %v", n, err)
	}
	if opened, listed, keys := cs.take(); opened != 2 || listed != 0 {
		t.Fatalf("a later process's first run opened %d objects (want the backfill and retention records only) and listed %d keys:\n%s",
			opened, listed, strings.Join(keys, "\n"))
	}
	reliability.Record(t, "operations", "export tasks finished before the expiry index existed", reliability.Recovered,
		"the first janitor run lists every task once and indexes the finished ones; their results expire as before; later runs read only the index")
}
