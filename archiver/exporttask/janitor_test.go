package exporttask_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// failingDay is a format whose every day fails: its task ends failed, with no result.
type failingDay struct{}

func (failingDay) WriteDay(context.Context, *archiver.StoredManifest, func() (model.Event, error)) error {
	return errors.New("encoder broke")
}
func (failingDay) Close() error { return nil }

// plantResult stores a result object no completed.json names under the task, as a
// replica that died before completed.json, or lost a race, leaves behind.
func plantResult(t *testing.T, s archiver.Store, org, id, content string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	key := archiver.TasksPrefix + org + "/" + id + "/result-" + hex.EncodeToString(sum[:]) + ".jsonl.gz"
	if err := s.Create(context.Background(), key, strings.NewReader(content), int64(len(content)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return key
}

func exists(t *testing.T, s archiver.Store, key string) bool {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if errors.Is(err, archiver.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return true
}

// TestJanitorDeletesOrphanedResults: results a finished task does not name are deleted
// once the task finished more than OrphanGrace ago, counted and logged; the named result,
// an orphan of a task finished within the grace, and any result of a task without an
// outcome yet (which a rerun may still name) are kept.
func TestJanitorDeletesOrphanedResults(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	e := f.engine(t, nil)
	var logs bytes.Buffer
	e.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.Formats = map[string]exporttask.NewEncoder{
		"jsonl":  exporttask.NewJSONL,
		"broken": func(io.Writer, exporttask.FormatOptions) (exporttask.Encoder, error) { return failingDay{}, nil },
	}
	reg := prometheus.NewPedanticRegistry()
	e.Register(reg)
	req := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}

	done, _ := run(t, e, req) // completed: its result is named
	named := archiver.TasksPrefix + acme + "/" + done.TaskID + "/result-" + done.Result.SHA256 + ".jsonl.gz"
	orphan := plantResult(t, f.store, acme, done.TaskID, "a dead replica's result")
	failed, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "broken"})
	if failed.State != exporttask.StateFailed {
		t.Fatalf("broken task: %s", failed.State)
	}
	failedOrphan := plantResult(t, f.store, acme, failed.TaskID, "stored before the task failed")
	queuedID, err := e.Create(ctx, acme, "test", req) // never run: no outcome
	if err != nil {
		t.Fatal(err)
	}
	pending := plantResult(t, f.store, acme, queuedID, "written, completed.json not yet")

	// Within the grace, nothing goes.
	f.clock.Add(exporttask.OrphanGrace - 1)
	if n, err := e.Expire(ctx); n != 0 || err != nil {
		t.Fatalf("Expire within the grace: %d, %v", n, err)
	}
	for _, k := range []string{named, orphan, failedOrphan, pending} {
		if !exists(t, f.store, k) {
			t.Fatalf("%s deleted within the grace", k)
		}
	}

	// Past the grace: the finished tasks' orphans go; a task finished just now keeps its
	// fresh orphan.
	f.clock.Add(1)
	fresh, _ := run(t, e, req)
	freshNamed := archiver.TasksPrefix + acme + "/" + fresh.TaskID + "/result-" + fresh.Result.SHA256 + ".jsonl.gz"
	freshOrphan := plantResult(t, f.store, acme, fresh.TaskID, "a race's loser, just written")
	if n, err := e.Expire(ctx); n != 2 || err != nil {
		t.Fatalf("Expire past the grace: %d, %v; want the 2 orphans of finished tasks", n, err)
	}
	for k, want := range map[string]bool{named: true, orphan: false, failedOrphan: false, pending: true, freshNamed: true, freshOrphan: true} {
		if got := exists(t, f.store, k); got != want {
			t.Errorf("%s exists %v, want %v", k, got, want)
		}
	}
	if _, rc, err := e.OpenResult(ctx, acme, done.TaskID); err != nil {
		t.Errorf("the named result no longer downloads: %v", err)
	} else {
		rc.Close()
	}
	for _, k := range []string{orphan, failedOrphan} {
		if !strings.Contains(logs.String(), "key="+k) {
			t.Errorf("no log line names %s:\n%s", k, logs.String())
		}
	}
	if got := counter(t, reg, "chatvault_export_task_results_orphaned_total"); got != 2 {
		t.Errorf("chatvault_export_task_results_orphaned_total %v, want 2", got)
	}

	// The fresh orphan goes once its task's grace is over; the queued task's result stays.
	f.clock.Add(exporttask.OrphanGrace)
	if n, err := e.Expire(ctx); n != 1 || err != nil {
		t.Fatalf("third Expire: %d, %v", n, err)
	}
	if exists(t, f.store, freshOrphan) || !exists(t, f.store, freshNamed) || !exists(t, f.store, pending) {
		t.Fatal("after the fresh task's grace: want its orphan gone, its result and the queued task's kept")
	}
	reliability.Record(t, "operations", "export task result no task names (a replica died before completed.json, or lost a race)",
		reliability.Recovered, "janitor deletes it an hour after its task finished, logged and counted; named results and unfinished tasks' results kept")
}

// counter reads a counter without labels from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
