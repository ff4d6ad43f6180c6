package exporttask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// The task list index: one empty entry per task, tasks/<org>/~list/<inverted ms>-<task>,
// written at creation (before request.json). Its names sort newest first (the inverted
// creation time, then the id), so a page of an organization's tasks is a listing of that
// many entries from a cursor and a status read each, whatever the number of tasks ever
// made; before it, every listing of the tasks read every task the organization ever made
// (a request, a listing and an outcome each), and answered with all of them. "~list" is no
// task id, so the readers of tasks/ (scans, janitor) pass over it.
const listDir = "~list/"

// listBackfillName marks an organization's tasks made before the index as indexed.
const listBackfillName = "~list-backfill.json"

// maxMillis is what creation times are inverted from: 13 digits, the year 2286.
const maxMillis = 9_999_999_999_999

// MaxListLimit is the most tasks a page of the list holds; DefaultListLimit is a page
// when none is asked for.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
)

// ErrBadCursor is a list cursor that is not one a page handed out (API 400, field after).
var ErrBadCursor = errors.New("not a cursor of the task list")

func listPrefix(org string) string { return archiver.TasksPrefix + org + "/" + listDir }

// listEntry is the entry's name for a task created at t.
func listEntry(t time.Time, id string) string {
	ms := min(max(t.UnixMilli(), 0), maxMillis)
	return fmt.Sprintf("%013d-%s", maxMillis-ms, id)
}

// parseListEntry returns the task id of an entry name (or a cursor, which is one).
func parseListEntry(name string) (string, bool) {
	inv, id, ok := strings.Cut(name, "-")
	if !ok || len(inv) != 13 || !ValidID(id) {
		return "", false
	}
	if _, err := strconv.ParseUint(inv, 10, 64); err != nil {
		return "", false
	}
	return id, true
}

// markListed writes the task's list entry (empty, create-only; one already there is left).
func (e *Engine) markListed(ctx context.Context, org, id string, created time.Time) error {
	err := putEmpty(ctx, e.Store, listPrefix(org)+listEntry(created, id))
	if err != nil && !errors.Is(err, archiver.ErrConflict) {
		return fmt.Errorf("task list index: %w", err)
	}
	return nil
}

// ListPage returns up to limit of the organization's tasks, newest first, after the cursor
// after ("" for the first page), and the cursor of the next page ("" when there is none).
// It reads limit entries of the list index and one status per task, whatever the number
// of tasks; the first call for an organization in a process indexes its tasks made before
// the index, once per store (listBackfillName).
func (e *Engine) ListPage(ctx context.Context, org, after string, limit int) ([]*Status, string, error) {
	e.init()
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	if after != "" {
		if _, ok := parseListEntry(after); !ok {
			return nil, "", ErrBadCursor
		}
	}
	if err := e.backfillList(ctx, org); err != nil {
		return nil, "", err
	}
	prefix := listPrefix(org)
	var names []string
	stop := errors.New("page full")
	err := archiver.ListAfter(ctx, e.Store, prefix, prefix+after, func(key string) error {
		name := key[len(prefix):]
		if _, ok := parseListEntry(name); !ok {
			return nil
		}
		if len(names) == limit {
			names = append(names, name) // the next page starts with it: there is one
			return stop
		}
		names = append(names, name)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, "", err
	}
	next := ""
	if len(names) > limit {
		names = names[:limit]
		next = names[limit-1]
	}
	out := make([]*Status, 0, len(names))
	for _, name := range names {
		id, _ := parseListEntry(name)
		st, err := e.Status(ctx, org, id)
		if errors.Is(err, ErrTaskNotFound) {
			continue // an entry whose request was never written (its process stopped)
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, st)
	}
	return out, next, nil
}

// backfillList gives each of the organization's tasks made before the list index its
// entry, once per store: the first page asked for in a process looks for the marker (one
// read), and without it lists the organization's tasks once.
func (e *Engine) backfillList(ctx context.Context, org string) error {
	e.mu.Lock()
	done := e.listed[org]
	e.mu.Unlock()
	if done {
		return nil
	}
	marker := archiver.TasksPrefix + org + "/" + listBackfillName
	rc, err := e.Store.Open(ctx, marker)
	if err == nil {
		rc.Close()
	} else {
		if !errors.Is(err, archiver.ErrNotFound) {
			return err
		}
		prefix := archiver.TasksPrefix + org + "/"
		var ids []string
		if err := e.Store.List(ctx, prefix, func(key string) error {
			if id, ok := strings.CutSuffix(key[len(prefix):], "/request.json"); ok && ValidID(id) {
				ids = append(ids, id)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			var rec record
			if err := getJSON(ctx, e.Store, requestKey(org, id), &rec); err != nil {
				return err
			}
			if err := e.markListed(ctx, org, id, rec.CreatedAt); err != nil {
				return err
			}
		}
		if err := putEmpty(ctx, e.Store, marker); err != nil && !errors.Is(err, archiver.ErrConflict) {
			return fmt.Errorf("task list index: %w", err)
		}
	}
	e.mu.Lock()
	e.listed[org] = true
	e.mu.Unlock()
	return nil
}

// putEmpty creates an empty object at key, once.
func putEmpty(ctx context.Context, s archiver.Store, key string) error {
	return s.Create(ctx, key, bytes.NewReader(nil), 0, sha256.Sum256(nil), archiver.CreateOptions{})
}
