package exporttask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// The expiry index tells the janitor which tasks' turn has come, so that an hourly run
// reads those tasks and no others (the store holds every task ever made). A task has two
// turns: OrphanGrace after it finished (results it does not name go) and exports.retention
// after it finished (its result goes; orphans written late go too). Each turn is one
// create-only, empty-bodied entry, written before its task's completed.json or failed.json:
//
//	tasks/expiry/<YYYY-MM-DD>/<org>/<task>.<HHMMSS>   the task's next turn, at that UTC time
//
// The janitor lists only the days that are due (from the oldest day it left an entry in,
// or yesterday, to today; every day from the first on its first run in a process),
// handles the entries whose time has passed, writes the task's next turn, and deletes the
// entries it handled: the index holds about one entry per finished task whose result has
// not expired yet. It is under tasks/ because stores delete there only.
//
// An organization whose id is "expiry" keeps its tasks at tasks/expiry/<uuid>/…: every
// reader of tasks requires a task id (a UUID) as the second segment and ignores longer
// keys, and the index reader requires a day there and four segments, so neither takes
// the other's keys.
const expiryPrefix = archiver.TasksPrefix + "expiry/"

// ExpireClockSkew is how far ahead of the store's clock this host's may run before Expire
// deletes nothing.
const ExpireClockSkew = 5 * time.Minute

// ErrClockAhead is Expire's refusal on a host whose clock runs ahead of the store's.
var ErrClockAhead = errors.New("this host's clock runs ahead of the store's")

// storeClock is a store that learns its own clock from its answers (the S3 store, from
// their Date headers; scheduler.StoreClock): the store's time minus this host's.
type storeClock interface {
	ClockSkew() (time.Duration, bool)
}

// checkStoreClock refuses Expire on a host whose clock runs ahead of the store's by more
// than ExpireClockSkew: every due time is judged on this host's clock, so one stepped 61
// days ahead (a bad NTP source, an RTC wrong at boot) deleted every result of the last
// exports.retention as expired, and their status read expired. Where the store tells its
// clock (S3), nothing is deleted until the clocks agree; the folder store cannot tell.
// A clock behind only deletes late.
func (e *Engine) checkStoreClock() error {
	sc, ok := e.Store.(storeClock)
	if !ok {
		return nil
	}
	skew, seen := sc.ClockSkew()
	if !seen || -skew <= ExpireClockSkew {
		return nil
	}
	return fmt.Errorf("%w by %s (its answers' Date headers; allowed: %s): no result is deleted until the clock is right (NTP)",
		ErrClockAhead, (-skew).Round(time.Second), ExpireClockSkew)
}

// expiryBackfillKey records that the tasks made before the index existed were given
// their entries (once, by the first janitor run of a release with the index).
const expiryBackfillKey = archiver.TasksPrefix + "expiry-backfill.json"

// janitorState is where the last Expire left the index.
type janitorState struct {
	// from is the oldest day that may hold an entry due; zero before the first run of
	// the process, which lists every day.
	from archiver.Day
	// backfilled is set once expiryBackfillKey is known to exist.
	backfilled bool
	// retentionChecked is set once the index's turns are known to have been written
	// with a retention no longer than Retention (see expiryRetentionKey).
	retentionChecked bool
}

// expiryRetentionKey records the exports.retention the index's turns were written with
// (the last process to check them). A task's retention turn is written at the turn before
// it, with the retention of that time: after the retention is lowered, those turns would
// come too late, and a result its status already calls expired would stay stored until
// the old retention ran out. So the first run of a process whose Retention is shorter
// than the recorded one (or that finds no record) visits every task the index holds,
// due or not, once: each gets its turn at its completion plus the new retention, and the
// ones past it lose their result at once. A longer retention needs nothing: turns that
// come early are moved to the later time when handled.
const expiryRetentionKey = archiver.TasksPrefix + "expiry-retention.json"

type retentionRecord struct {
	RetentionSeconds int64 `json:"retentionSeconds"`
}

// retentionLowered reports whether this run must visit every task of the index (see
// expiryRetentionKey). A record of a longer retention than Retention is replaced at once.
func (e *Engine) retentionLowered(ctx context.Context, d archiver.Deleter) (bool, error) {
	e.mu.Lock()
	done := e.janitor.retentionChecked
	e.mu.Unlock()
	if done {
		return false, nil
	}
	var r retentionRecord
	switch err := getJSON(ctx, e.Store, expiryRetentionKey, &r); {
	case errors.Is(err, archiver.ErrNotFound):
		return true, nil
	case err != nil:
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return true, nil // unreadable: as if missing
		}
		return false, err
	case r.RetentionSeconds > int64(e.Retention/time.Second):
		return true, nil
	case r.RetentionSeconds < int64(e.Retention/time.Second):
		return false, e.recordRetention(ctx, d)
	}
	e.mu.Lock()
	e.janitor.retentionChecked = true
	e.mu.Unlock()
	return false, nil
}

// recordRetention replaces expiryRetentionKey with Retention. A crash between the delete
// and the create leaves no record: the next process visits every task again, which is
// safe.
func (e *Engine) recordRetention(ctx context.Context, d archiver.Deleter) error {
	if err := d.Delete(ctx, expiryRetentionKey); err != nil && !errors.Is(err, archiver.ErrNotFound) {
		return fmt.Errorf("export task expiry index: %w", err)
	}
	err := putJSON(ctx, e.Store, expiryRetentionKey, retentionRecord{int64(e.Retention / time.Second)})
	if err != nil && !errors.Is(err, archiver.ErrConflict) { // another replica's, just now
		return fmt.Errorf("export task expiry index: %w", err)
	}
	e.mu.Lock()
	e.janitor.retentionChecked = true
	e.mu.Unlock()
	return nil
}

// expiryEntry is one entry of the index: a task and the time of its turn.
type expiryEntry struct {
	key     string
	org, id string
	due     time.Time
}

// expiryKey is the entry of org's task id for its turn at due, rounded up to the second.
func expiryKey(org, id string, due time.Time) string {
	if t := due.Truncate(time.Second); t.Before(due) {
		due = t.Add(time.Second)
	}
	due = due.UTC()
	return expiryPrefix + archiver.DayOf(due).String() + "/" + org + "/" + id + "." + due.Format("150405")
}

// parseExpiryKey reads tasks/expiry/<date>/<org>/<task>.<HHMMSS>.
func parseExpiryKey(key string) (expiryEntry, bool) {
	parts := strings.Split(strings.TrimPrefix(key, expiryPrefix), "/")
	if !strings.HasPrefix(key, expiryPrefix) || len(parts) != 3 {
		return expiryEntry{}, false
	}
	id, hms, ok := strings.Cut(parts[2], ".")
	if !ok || !ValidID(id) || len(hms) != 6 {
		return expiryEntry{}, false
	}
	due, err := time.Parse("2006-01-02 150405", parts[0]+" "+hms)
	if err != nil {
		return expiryEntry{}, false
	}
	return expiryEntry{key: key, org: parts[1], id: id, due: due}, true
}

// schedule writes the index entry of org's task id for its turn at due. An entry that is
// already there (another replica, a rerun) is fine: entries are empty, so creating one
// again is a no-op.
func (e *Engine) schedule(ctx context.Context, org, id string, due time.Time) error {
	key := expiryKey(org, id, due)
	if err := e.Store.Create(ctx, key, bytes.NewReader(nil), 0, sha256.Sum256(nil), archiver.CreateOptions{}); err != nil {
		return fmt.Errorf("export task expiry index: %w", err)
	}
	return nil
}

// finish stores a task's outcome (completed.json or failed.json, holding v, of time at),
// its first turn in the expiry index first: a crash between the two leaves an entry the
// janitor drops (the task has no outcome, and its rerun schedules it again), never an
// outcome no turn reaches.
//
// The outcome is the task's only if c still holds the task when it is recorded: a holder
// that stalled past its claim's expiry (a GC pause, a frozen VM) was taken over, and its
// late failed.json landed beside (or before) the new holder's completed.json, so that the
// task read failed while it ran or after. A check of the claim before the write
// (claim.held) leaves the two store calls apart, and a stall of a whole claim period
// between them still let the late write land. So the outcome is committed the way the
// claim is taken, create-only: its bytes go to outcome-<seq>.json, then c creates the
// next link of the claim chain naming them (claim.commit), released. A replica that took
// the task over created that link first, and the commit conflicts (errClaimLost): the
// late holder records nothing. Once the link exists the outcome is the task's, whoever
// writes its object: this holder next, or, if it stalls or dies first, the replica that
// takes the task over (commitPrevious), with the same bytes, so that a late write of them
// changes nothing.
func (e *Engine) finish(ctx context.Context, r taskRef, c *claim, key string, v any, at time.Time) error {
	if err := e.schedule(ctx, r.org, r.id, at.Add(OrphanGrace)); err != nil {
		return err
	}
	// A cheap early answer; the commit below is the fence.
	if err := c.held(ctx); err != nil {
		return err
	}
	b, err := encodeJSON(key, v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	if err := putBytes(ctx, e.Store, outcomeKey(r.org, r.id, c.seq+1), b); err != nil {
		return fmt.Errorf("export task outcome: %w", err)
	}
	if err := c.commit(ctx, key[len(taskPrefix(r.org, r.id)):], hex.EncodeToString(sum[:])); err != nil {
		return err
	}
	if err := putBytes(ctx, e.Store, key, b); err != nil {
		return err
	}
	e.unmarkOpen(ctx, r) // openindex.go
	return nil
}

// commitPrevious writes the outcome that the link before c's first committed (prev), when
// its holder did not write it (it stalled or died between the two): the bytes it kept
// beside the link, checked against the link's SHA-256.
func (e *Engine) commitPrevious(ctx context.Context, r taskRef, prev *claimLink) error {
	switch prev.Outcome {
	case "completed.json", "failed.json":
	default:
		return fmt.Errorf("claim %s: commits %q, not an outcome", claimKey(r.org, r.id, prev.Seq), prev.Outcome)
	}
	src := outcomeKey(r.org, r.id, prev.Seq)
	rc, err := e.Store.Open(ctx, src)
	if err != nil {
		return fmt.Errorf("export task outcome: %w", err)
	}
	b, err := archiver.ReadCapped(rc, src)
	rc.Close()
	if err != nil {
		return fmt.Errorf("export task outcome: %w", err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != prev.OutcomeSHA256 {
		return fmt.Errorf("export task outcome %s: SHA-256 %x, not the %s its claim link commits", src, sum, prev.OutcomeSHA256)
	}
	if err := putBytes(ctx, e.Store, taskPrefix(r.org, r.id)+prev.Outcome, b); err != nil {
		return err
	}
	e.unmarkOpen(ctx, r)
	return nil
}

// Expire is the task janitor (serve runs it hourly). It deletes the results of tasks
// completed more than Retention ago, and the results no finished task names (orphans, see
// OrphanGrace), and returns how many it deleted. A result already gone (a bucket
// lifecycle rule) is not an error. The task's other objects stay: its status then reads
// expired, with its hashes.
//
// It reads only the tasks whose turn has come, through the expiry index (see
// expiryPrefix); the first run of a release with the index gives every task made before
// it an entry, once.
func (e *Engine) Expire(ctx context.Context) (int, error) {
	e.init()
	d, ok := e.Store.(archiver.Deleter)
	if !ok {
		return 0, errors.New("expire task results: the store cannot delete (use a bucket lifecycle rule on tasks/)")
	}
	now := e.Now().UTC()
	if err := e.backfillExpiry(ctx, now); err != nil {
		return 0, fmt.Errorf("expire task results: %w", err)
	}
	all, err := e.retentionLowered(ctx, d)
	if err != nil {
		return 0, fmt.Errorf("expire task results: %w", err)
	}
	entries, err := e.dueEntries(ctx, now, all)
	if err != nil {
		return 0, fmt.Errorf("expire task results: %w", err)
	}
	if err := e.checkStoreClock(); err != nil { // after a listing: its answer dated it
		return 0, fmt.Errorf("expire task results: %w", err)
	}
	today := archiver.DayOf(now)
	// The next run starts at yesterday (an entry written by a replica whose clock is
	// behind may land there) or at the oldest day this run leaves an entry in.
	from := archiver.DayOf(now.AddDate(0, 0, -1))
	keep := func(x expiryEntry) {
		if day := archiver.DayOf(x.due); day.Before(from) {
			from = day
		}
	}
	// A task may have several entries due (a backfilled one beside its own): one visit.
	byTask := map[taskRef][]expiryEntry{}
	var order []taskRef
	for _, x := range entries {
		if now.Before(x.due) && !all {
			keep(x)
			continue
		}
		r := taskRef{x.org, x.id}
		if byTask[r] == nil {
			order = append(order, r)
		}
		byTask[r] = append(byTask[r], x)
	}
	n := 0
	var errs []error
	for _, r := range order {
		m, next, err := e.visit(ctx, d, r, now)
		n += m
		if err == nil && !next.IsZero() {
			err = e.schedule(ctx, r.org, r.id, next)
		}
		if err != nil {
			// The entries stay: the task is visited again next run.
			errs = append(errs, err)
			for _, x := range byTask[r] {
				keep(x)
			}
			continue
		}
		for _, x := range byTask[r] {
			if !next.IsZero() && x.key == expiryKey(r.org, r.id, next) {
				keep(x)
				continue
			}
			if next.IsZero() && now.Before(x.due) {
				// Visited early (all): a task without its outcome yet (its entry is
				// written just before it) keeps its turn.
				keep(x)
				continue
			}
			if err := d.Delete(ctx, x.key); err != nil && !errors.Is(err, archiver.ErrNotFound) {
				errs = append(errs, err)
				keep(x)
			}
		}
	}
	if from.After(today) {
		from = today
	}
	e.mu.Lock()
	e.janitor.from = from
	e.mu.Unlock()
	if len(errs) > 0 {
		return n, fmt.Errorf("expire task results: %w", errors.Join(errs...))
	}
	if all {
		if err := e.recordRetention(ctx, d); err != nil {
			return n, fmt.Errorf("expire task results: %w", err)
		}
	}
	return n, nil
}

// errStop ends a listing early.
var errStop = errors.New("stop")

// dueEntries lists the index's entries of the days up to today: from the day the last
// run left, or, on the process's first run, from the first (stopping at the first entry
// of a later day, since keys sort by day). With all, it lists every entry.
func (e *Engine) dueEntries(ctx context.Context, now time.Time, all bool) ([]expiryEntry, error) {
	today := archiver.DayOf(now)
	e.mu.Lock()
	from := e.janitor.from
	e.mu.Unlock()
	var out []expiryEntry
	collect := func(key string) error {
		x, ok := parseExpiryKey(key)
		if !ok {
			return nil // an organization named "expiry" (see expiryPrefix), or a stray key
		}
		if archiver.DayOf(x.due).After(today) && !all {
			return errStop
		}
		out = append(out, x)
		return nil
	}
	// A first day after today was left by a run whose clock ran ahead (it was stepped
	// back since): from it to today is no day, and every run listed nothing, in this
	// process, until the clock caught up. The index is listed from its start instead, as
	// a process's first run does.
	if from.IsZero() || all || from.After(today) {
		if err := e.Store.List(ctx, expiryPrefix, collect); err != nil && !errors.Is(err, errStop) {
			return nil, fmt.Errorf("list %s: %w", expiryPrefix, err)
		}
		return out, nil
	}
	for day := from; !day.After(today); day = day.Next() {
		prefix := expiryPrefix + day.String() + "/"
		if err := e.Store.List(ctx, prefix, collect); err != nil && !errors.Is(err, errStop) {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
	}
	return out, nil
}

// backfillExpiry gives every finished task made before the index existed an entry due
// now, once per store: it lists every task, as the janitor did on every run before the
// index. Until expiryBackfillKey exists, each run of each replica tries again (entries
// already there are fine).
func (e *Engine) backfillExpiry(ctx context.Context, now time.Time) error {
	e.mu.Lock()
	done := e.janitor.backfilled
	e.mu.Unlock()
	if done {
		return nil
	}
	var marker struct{}
	switch err := getJSON(ctx, e.Store, expiryBackfillKey, &marker); {
	case err == nil:
	case errors.Is(err, archiver.ErrNotFound):
		tasks, err := listTaskObjects(ctx, e.Store)
		if err != nil {
			return fmt.Errorf("backfill the expiry index: %w", err)
		}
		for _, t := range tasks {
			if !t.completed && !t.failed {
				continue // its outcome, when it comes, schedules it
			}
			if err := e.schedule(ctx, t.org, t.id, now); err != nil {
				return fmt.Errorf("backfill the expiry index: %w", err)
			}
		}
		err = putJSON(ctx, e.Store, expiryBackfillKey, struct {
			At    time.Time `json:"at"`
			Tasks int       `json:"tasks"`
		}{now, len(tasks)})
		if err != nil && !errors.Is(err, archiver.ErrConflict) { // another replica's
			return fmt.Errorf("backfill the expiry index: %w", err)
		}
		e.Logger.Info("export task expiry index backfilled", "tasks", len(tasks))
	default:
		return fmt.Errorf("backfill the expiry index: %w", err)
	}
	e.mu.Lock()
	e.janitor.backfilled = true
	e.mu.Unlock()
	return nil
}

// visit handles one task whose turn has come: it deletes the task's result once the task
// completed Retention ago, and its orphans once it finished OrphanGrace ago. It returns
// how many results it deleted and the time of the task's next turn (zero: none, the
// task's entries can go).
func (e *Engine) visit(ctx context.Context, d archiver.Deleter, r taskRef, now time.Time) (int, time.Time, error) {
	t, err := listTask(ctx, e.Store, r.org, r.id)
	if err != nil {
		return 0, time.Time{}, err
	}
	var named string       // the result completed.json names
	var finished time.Time // when the task got its outcome
	n := 0
	switch {
	case t.completed:
		var c completion
		if err := getJSON(ctx, e.Store, completedKey(t.org, t.id), &c); err != nil {
			return 0, time.Time{}, err
		}
		// Only the task's own result is ever deleted, whatever the record says; its
		// signature is not required: an unsigned record's result (a task completed before
		// completions were signed, or a forgery) is a copy that is never served, and
		// deleting it at retention loses nothing.
		if err := c.ownResult(t.org, t.id); err != nil {
			return 0, time.Time{}, err
		}
		named, finished = c.ResultKey, c.CompletedAt
		if !now.Before(c.CompletedAt.Add(e.Retention)) && slices.Contains(t.results, c.ResultKey) {
			gone, err := deleteResult(ctx, d, c.ResultKey)
			if err != nil {
				return 0, time.Time{}, err
			}
			if gone {
				e.Logger.Info("export task result deleted after retention", "org", t.org, "task", t.id, "completed", c.CompletedAt)
				e.metrics.expired.Inc()
				n++
			}
		}
	case t.failed:
		var f failure
		if err := getJSON(ctx, e.Store, failedKey(t.org, t.id), &f); err != nil {
			return 0, time.Time{}, err
		}
		finished = f.FailedAt
	default:
		// No outcome: the process that wrote the entry stopped before it. A rerun of the
		// task schedules it again when it finishes.
		return 0, time.Time{}, nil
	}
	m, err := e.sweepOrphans(ctx, d, t, named, finished, now)
	n += m
	if err != nil {
		return n, time.Time{}, err
	}
	switch {
	case now.Before(finished.Add(OrphanGrace)):
		return n, finished.Add(OrphanGrace), nil
	case now.Before(finished.Add(e.Retention)):
		return n, finished.Add(e.Retention), nil
	}
	return n, time.Time{}, nil
}

// listTask lists one task's objects.
func listTask(ctx context.Context, s archiver.Store, org, id string) (*taskObjects, error) {
	t := &taskObjects{org: org, id: id}
	prefix := taskPrefix(org, id)
	err := s.List(ctx, prefix, func(key string) error {
		t.note(key, key[len(prefix):])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return t, nil
}

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
		tasks[len(tasks)-1].note(key, parts[2])
		return nil
	})
	return tasks, err
}

// note adds the task's object key, named name within the task.
func (t *taskObjects) note(key, name string) {
	switch {
	case name == "completed.json":
		t.completed = true
	case name == "failed.json":
		t.failed = true
	case strings.HasPrefix(name, "result-"):
		t.results = append(t.results, key)
	}
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
