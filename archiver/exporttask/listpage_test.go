package exporttask_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// afterCountingStore is a countingStore that keeps the folder store's ListAfter, counting
// what it lists, so that a listing from a cursor costs what it costs in production.
type afterCountingStore struct{ *countingStore }

func (s afterCountingStore) ListAfter(ctx context.Context, prefix, after string, fn func(string) error) error {
	return s.Store.(archiver.AfterLister).ListAfter(ctx, prefix, after, func(key string) error {
		s.mu.Lock()
		s.listed++
		s.keys = append(s.keys, key)
		s.mu.Unlock()
		return fn(key)
	})
}

// TestTaskListIsPaged: GET /v1/exports/tasks read every task the organization ever made
// (its request, a listing of its objects and its outcome each; tasks are never deleted,
// only their results) and answered with all of them, so the list's cost and size grew
// with the archive's age. A page is now read from the task list index: counted with 6
// and with 24 tasks in the store, the first page of 5 opens and lists the same numbers;
// the pages walk every task once, newest first; a cursor that is not one is refused; and
// the tasks made before the index are indexed once (the first page of a process).
func TestTaskListIsPaged(t *testing.T) {
	ctx := context.Background()
	costs := map[int][2]int{}
	for _, n := range []int{6, 24} {
		f := newFixture(t)
		a := f.engine(t, nil)
		a.MaxTasksPerOrg = 100 // queued, never run: the test lists them
		var ids []string       // oldest first
		for range n {
			id, err := a.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			f.clock.Add(time.Minute)
		}
		if _, _, err := a.ListPage(ctx, acme, "", 5); err != nil { // a's first page indexes older tasks (none)
			t.Fatal(err)
		}
		cs := afterCountingStore{&countingStore{Store: f.store}}
		b := f.engine(t, cs)
		page, next, err := b.ListPage(ctx, acme, "", 5)
		if err != nil {
			t.Fatal(err)
		}
		opened, listed, _ := cs.take()
		costs[n] = [2]int{opened, listed}
		if len(page) != 5 || next == "" {
			t.Fatalf("%d tasks: first page of %d, next %q", n, len(page), next)
		}
		// Every page, newest first, each task once.
		var got []string
		for cursor := ""; ; {
			page, next, err := b.ListPage(ctx, acme, cursor, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range page {
				got = append(got, st.TaskID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%d tasks: the pages gave %d tasks %v, want newest first %v", n, len(got), got, want)
		}
		for _, bad := range []string{"../../x", "0000000000001-not-a-task", "zzz", want[0]} {
			if _, _, err := b.ListPage(ctx, acme, bad, 5); !errors.Is(err, exporttask.ErrBadCursor) {
				t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
			}
		}
		// Another organization's list is its own.
		if page, _, err := b.ListPage(ctx, globex, "", 5); err != nil || len(page) != 0 {
			t.Errorf("another organization lists %d tasks (%v)", len(page), err)
		}
		if n == 6 {
			// Tasks made before the index: their entries and the marker gone, a new process's
			// first page indexes them once and lists them all.
			var index []string
			f.store.List(ctx, archiver.TasksPrefix+acme+"/~list", func(key string) error { index = append(index, key); return nil })
			if len(index) != n+1 {
				t.Fatalf("index holds %d keys, want %d entries and the marker", len(index), n)
			}
			for _, key := range index {
				if err := f.store.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			c := f.engine(t, nil)
			page, _, err := c.ListPage(ctx, acme, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, st := range page {
				got = append(got, st.TaskID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("after the backfill: %v, want %v", got, want)
			}
		}
	}
	if costs[6] != costs[24] {
		t.Fatalf("the first page of 5 cost (opened, listed) %v with 6 tasks and %v with 24", costs[6], costs[24])
	}
	t.Logf("a page of 5: %d objects opened, %d keys listed, with 6 or 24 tasks", costs[6][0], costs[6][1])
	reliability.Record(t, "operations", "GET /v1/exports/tasks of an organization with 6 and with 24 tasks", reliability.Kept,
		"counted: a page (limit, after) reads its entries of the task list index and its tasks only, the same with 6 or 24 tasks, newest first; every task was read and answered before; a cursor that is not one is refused")
}
