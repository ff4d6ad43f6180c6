package exporttask

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// OrphanGrace is how long after its task finished a result that the task's
// completed.json does not name is kept before the janitor deletes it.
//
// Such orphans come from replicas: one that wrote its result and died before
// completed.json, whose rerun made other bytes (a day superseded in between); one that
// lost a race and stored its result after the winner's completed.json; a task that failed
// after its result was stored (its e-mail could not be sent). completed.json and
// failed.json are create-only, so once a task has either, nothing will ever name another
// result: the grace only leaves room for a slow replica still finishing its write, and
// for clocks that disagree. A task without an outcome is never swept: a result not named
// yet may be about to be.
const OrphanGrace = time.Hour

// taskObjects are what the store holds of one task, as far as the janitor cares.
type taskObjects struct {
	org, id           string
	completed, failed bool
	results           []string // result-* keys
}

// listTaskObjects lists every task under tasks/ with its outcome files and results.
func listTaskObjects(ctx context.Context, s archiver.Store) ([]*taskObjects, error) {
	var tasks []*taskObjects
	err := s.List(ctx, archiver.TasksPrefix, func(key string) error {
		parts := strings.Split(strings.TrimPrefix(key, archiver.TasksPrefix), "/")
		if len(parts) != 3 || !ValidID(parts[1]) {
			return nil
		}
		// List is in key order, so a task's objects come together.
		if n := len(tasks); n == 0 || tasks[n-1].org != parts[0] || tasks[n-1].id != parts[1] {
			tasks = append(tasks, &taskObjects{org: parts[0], id: parts[1]})
		}
		t := tasks[len(tasks)-1]
		switch name := parts[2]; {
		case name == "completed.json":
			t.completed = true
		case name == "failed.json":
			t.failed = true
		case strings.HasPrefix(name, "result-"):
			t.results = append(t.results, key)
		}
		return nil
	})
	return tasks, err
}

// sweepOrphans deletes t's results other than named, once the task finished (at
// finished) more than OrphanGrace ago, and returns how many it deleted.
func (e *Engine) sweepOrphans(ctx context.Context, d archiver.Deleter, t *taskObjects, named string, finished, now time.Time) (int, error) {
	if now.Before(finished.Add(OrphanGrace)) {
		return 0, nil
	}
	n := 0
	for _, key := range t.results {
		if key == named {
			continue
		}
		gone, err := deleteResult(ctx, d, key)
		if err != nil {
			return n, err
		}
		if !gone {
			continue
		}
		e.Logger.Warn("export task result deleted: its task does not name it", "org", t.org, "task", t.id, "key", key, "finished", finished)
		e.metrics.orphaned.Inc()
		n++
	}
	return n, nil
}

// deleteResult deletes key and says whether it did; one already gone (a lifecycle rule,
// another replica's janitor) is not an error.
func deleteResult(ctx context.Context, d archiver.Deleter, key string) (bool, error) {
	err := d.Delete(ctx, key)
	if errors.Is(err, archiver.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
