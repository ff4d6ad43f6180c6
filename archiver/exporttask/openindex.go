package exporttask

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// The open-task index lets Scan (every ScanInterval, on every replica) and the per
// organization cap find the tasks without an outcome without listing every task ever
// made:
//
//	tasks/open/<org>/<task>   {"createdAt":…}: the task has no outcome yet
//
// Create writes the entry before request.json, and the task's outcome deletes it (after
// completed.json or failed.json is stored); an entry whose task turns out to have an
// outcome (the deletion failed), or no request.json an hour after the entry was made (the
// process stopped between the two), is deleted by the scan that finds it. It is under
// tasks/ because stores delete there only.
//
// An organization whose id is "open" keeps its tasks at tasks/open/<uuid>/…: entries
// have two segments after tasks/open/, the second a task id, and task objects have a
// file name there, so neither reader takes the other's keys.
const openPrefix = archiver.TasksPrefix + "open/"

// openBackfillKey records that the tasks made before the index existed were given their
// entries (once, by the first scan of a release with the index).
const openBackfillKey = archiver.TasksPrefix + "open-backfill.json"

func openKey(r taskRef) string { return openPrefix + r.org + "/" + r.id }

// parseOpenKey reads tasks/open/<org>/<task>.
func parseOpenKey(key string) (taskRef, bool) {
	org, id, ok := strings.Cut(strings.TrimPrefix(key, openPrefix), "/")
	if !strings.HasPrefix(key, openPrefix) || !ok || org == "" || !ValidID(id) {
		return taskRef{}, false
	}
	return taskRef{org, id}, true
}

// markOpen writes r's entry, before its request.json.
func (e *Engine) markOpen(ctx context.Context, r taskRef, now time.Time) error {
	if err := putJSON(ctx, e.Store, openKey(r), struct {
		CreatedAt time.Time `json:"createdAt"`
	}{now.UTC()}); err != nil {
		return fmt.Errorf("open-task index: %w", err)
	}
	return nil
}

// unmarkOpen deletes r's entry once its outcome is stored. A failure is left to the
// scan that finds the entry with its outcome.
func (e *Engine) unmarkOpen(ctx context.Context, r taskRef) {
	d, ok := e.Store.(archiver.Deleter)
	if !ok {
		return
	}
	if err := d.Delete(ctx, openKey(r)); err != nil && !errors.Is(err, archiver.ErrNotFound) {
		e.Logger.Warn("open-task index entry not deleted; the next scan deletes it", "org", r.org, "task", r.id, "err", err)
	}
}

// ensureOpen writes r's entry again, if it is missing, for a task a status read found
// queued and run by no replica: the scans find tasks through the index only, so a task
// whose entry was deleted (by hand: nothing in chatvault deletes the entry of a task
// without an outcome) would be run by no replica, and its requester would wait forever.
// The entry is created, create-only: one that exists (its own bytes differ) is a
// conflict, which is fine. A failure is logged: the status itself is answered.
func (e *Engine) ensureOpen(ctx context.Context, r taskRef) {
	if _, ok := e.Store.(archiver.Deleter); !ok {
		return // no index: the scan lists every task
	}
	if err := e.markOpen(ctx, r, e.Now()); err != nil && !errors.Is(err, archiver.ErrConflict) {
		e.Logger.Warn("open-task index entry not restored", "org", r.org, "task", r.id, "err", err)
	}
}

// openTask is what a scan needs of one task.
type openTask struct {
	ref       taskRef
	req, done bool
	lastClaim string
}

// openTasks returns the tasks the open-task index names under prefix (openPrefix, or one
// organization's openPrefix+org+"/"), each with its own objects listed, deleting the
// entries that are stale (see openPrefix). On a store that cannot delete, or before the
// index is backfilled, the caller lists every task instead.
func (e *Engine) openTasks(ctx context.Context, d archiver.Deleter, prefix string) ([]openTask, error) {
	var refs []taskRef
	if err := e.Store.List(ctx, prefix, func(key string) error {
		if r, ok := parseOpenKey(key); ok {
			refs = append(refs, r)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	var out []openTask
	var errs []error
	for _, r := range refs {
		o := openTask{ref: r}
		tp := taskPrefix(r.org, r.id)
		if err := e.Store.List(ctx, tp, func(key string) error {
			switch name := key[len(tp):]; name {
			case "request.json":
				o.req = true
			case "completed.json", "failed.json":
				o.done = true
			default:
				if _, ok := claimSeq(name); ok {
					o.lastClaim = key // listed in order: the last one is the chain's head
				}
			}
			return nil
		}); err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", tp, err))
			continue
		}
		stale := o.done
		if !o.req && !o.done {
			// Made an hour ago and still no request: its process stopped in between.
			var entry struct {
				CreatedAt time.Time `json:"createdAt"`
			}
			if err := getJSON(ctx, e.Store, openKey(r), &entry); err != nil && !errors.Is(err, archiver.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			stale = !e.Now().Before(entry.CreatedAt.Add(OrphanGrace))
		}
		if stale {
			if err := d.Delete(ctx, openKey(r)); err != nil && !errors.Is(err, archiver.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if o.req {
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}

// openIndexReady reports whether the open-task index can be used: the store deletes (so
// entries go when their tasks finish) and the tasks made before it have their entries.
// The first call of a process on a store without openBackfillKey lists every task once
// and writes the missing entries.
func (e *Engine) openIndexReady(ctx context.Context) (archiver.Deleter, bool, error) {
	d, ok := e.Store.(archiver.Deleter)
	if !ok {
		return nil, false, nil
	}
	e.mu.Lock()
	done := e.openBackfilled
	e.mu.Unlock()
	if done {
		return d, true, nil
	}
	var marker struct{}
	switch err := getJSON(ctx, e.Store, openBackfillKey, &marker); {
	case err == nil:
	case errors.Is(err, archiver.ErrNotFound):
		all, err := e.listAllOpen(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("backfill the open-task index: %w", err)
		}
		now := e.Now()
		for _, o := range all {
			if err := e.markOpen(ctx, o.ref, now); err != nil && !errors.Is(err, archiver.ErrConflict) {
				return nil, false, fmt.Errorf("backfill the open-task index: %w", err)
			}
		}
		err = putJSON(ctx, e.Store, openBackfillKey, struct {
			At    time.Time `json:"at"`
			Tasks int       `json:"tasks"`
		}{now.UTC(), len(all)})
		if err != nil && !errors.Is(err, archiver.ErrConflict) { // another replica's
			return nil, false, fmt.Errorf("backfill the open-task index: %w", err)
		}
	default:
		return nil, false, fmt.Errorf("open-task index: %w", err)
	}
	e.mu.Lock()
	e.openBackfilled = true
	e.mu.Unlock()
	return d, true, nil
}

// listAllOpen lists every task of the store and returns those without an outcome: what
// Scan did on every run before the open-task index, and still does on a store that
// cannot delete.
func (e *Engine) listAllOpen(ctx context.Context) ([]openTask, error) {
	var found []openTask
	var cur openTask
	flush := func() {
		if cur.req && !cur.done {
			found = append(found, cur)
		}
	}
	err := e.Store.List(ctx, archiver.TasksPrefix, func(key string) error {
		parts := strings.Split(strings.TrimPrefix(key, archiver.TasksPrefix), "/")
		if len(parts) != 3 || !ValidID(parts[1]) {
			return nil
		}
		if ref := (taskRef{parts[0], parts[1]}); ref != cur.ref {
			flush()
			cur = openTask{ref: ref}
		}
		switch parts[2] {
		case "request.json":
			cur.req = true
		case "completed.json", "failed.json":
			cur.done = true
		default:
			if _, ok := claimSeq(parts[2]); ok {
				cur.lastClaim = key // listed in order: the last one is the chain's head
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", archiver.TasksPrefix, err)
	}
	flush()
	return found, nil
}
