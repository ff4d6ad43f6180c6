package exporttask

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// A task is run by one replica at a time, on a store that can only create objects: each
// task has a chain of claim links, tasks/<org>/<task>/claim-<nnnnnnnn>.json, each naming a
// holder (Engine.Holder, one per process) and an expiry. The last link says who holds the
// task. To take a task, a replica reads the last link: if another holder's link is neither
// released nor expired, the task is that replica's; otherwise it creates the next link.
// Two replicas racing for the same link create the same key with different bytes, and
// the store lets exactly one win (the other gets archiver.ErrConflict). The holder renews
// by creating the next link itself, without reading: if a replica took the task over
// meanwhile (the holder stalled past its expiry), that link exists and the renewal
// conflicts, so the old holder learns it lost the task and stops. It releases by adding a
// link that is already released; the release after a run also commits the run's outcome
// (claimLink.Outcome, Engine.finish), so that a holder taken over cannot record one. A holder that dies simply lets its link expire, and the
// next replica that scans the store takes the task over.

// errClaimHeld: another replica holds the task's claim.
var errClaimHeld = errors.New("export task claimed by another replica")

// errClaimLost: a replica took the task over from this one (it did not renew in time).
var errClaimLost = errors.New("export task claim lost to another replica")

// claimLink is claim-<seq>.json.
type claimLink struct {
	Seq     int       `json:"seq"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	// Released links end a holder's claim before its expiry (done, or handed back at
	// shutdown).
	Released bool `json:"released,omitempty"`
	// Outcome, on a released link, is the task's outcome this link commits: the name of
	// the outcome object (completed.json or failed.json) and the SHA-256 of its bytes,
	// kept beside the link in outcome-<seq>.json until the object is written (see
	// Engine.finish). Empty on every other link.
	Outcome       string `json:"outcome,omitempty"`
	OutcomeSHA256 string `json:"outcomeSha256,omitempty"`
}

// outcomeKey is outcome-<seq>.json: the bytes of the outcome that claim link seq commits,
// written before the link so that whoever finds the link can write them.
func outcomeKey(org, id string, seq int) string {
	return fmt.Sprintf("%soutcome-%08d.json", taskPrefix(org, id), seq)
}

// live reports whether the link keeps other replicas off the task at now.
func (l *claimLink) live(now time.Time) bool {
	return l != nil && !l.Released && now.Before(l.Expires)
}

// ClaimClockSkew is how far apart the replicas' clocks may be for claims: a claim that
// expires further than ClaimTTL and this after now was not written on a clock within it.
const ClaimClockSkew = time.Minute

// aheadClaim is a claim link that expires further ahead than a claim is written for, and
// when, on this process's clock, it was first seen as its task's last link.
type aheadClaim struct {
	seq   int
	since time.Time
}

// claimLive is l.live(now) for the task r's last link, except for a link another holder
// wrote expiring further ahead than ClaimTTL and ClaimClockSkew: its clock ran ahead (an
// NTP step, an RTC wrong at boot) or this host's went back. A live holder renews every
// third of ClaimTTL whatever its clock, so such a link left the last one for ClaimTTL and
// twice the skew on this process's clock (monotonic in serve: a step of the wall clock
// does not shorten it) is a dead holder's, one killed while its clock ran ahead: it no
// longer keeps the task. Before, the task read running, and no replica took it, until
// that far date came on their clocks. A renewal (a later link) starts the watch again.
func (e *Engine) claimLive(r taskRef, l *claimLink, now time.Time) bool {
	if !l.live(now) {
		return false
	}
	if l.Holder == e.Holder || l.Expires.Sub(now) <= e.ClaimTTL+ClaimClockSkew {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.ahead[r]
	if !ok || w.seq != l.Seq {
		if e.ahead == nil {
			e.ahead = map[taskRef]aheadClaim{}
		}
		e.ahead[r] = aheadClaim{seq: l.Seq, since: now}
		e.Logger.Warn("export task claim expires further ahead than a claim is written for (its holder's clock ran ahead, or this host's went back): "+
			"taken over unless renewed", "org", r.org, "task", r.id, "holder", l.Holder, "expires", l.Expires, "within", e.ClaimTTL+2*ClaimClockSkew)
		return true
	}
	// Kept past the window: the scan that finds the claim dead and the acquire after it
	// must both see it so; a later link replaces it.
	return now.Sub(w.since) < e.ClaimTTL+2*ClaimClockSkew
}

func claimPrefix(org, id string) string { return taskPrefix(org, id) + "claim-" }

func claimKey(org, id string, seq int) string {
	return fmt.Sprintf("%s%08d.json", claimPrefix(org, id), seq)
}

// claimSeq parses the sequence number of a claim link's key name ("claim-00000003.json").
func claimSeq(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "claim-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	if !ok || len(s) != 8 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// readClaim reads the claim link at key (the task's last).
func readClaim(ctx context.Context, s archiver.Store, org, id, key string) (*claimLink, error) {
	seq, ok := claimSeq(key[len(taskPrefix(org, id)):])
	if !ok {
		return nil, fmt.Errorf("claim %s: not a claim link", key)
	}
	var l claimLink
	if err := getJSON(ctx, s, key, &l); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if l.Seq != seq {
		return nil, fmt.Errorf("claim %s: sequence %d does not match its name", key, l.Seq)
	}
	return &l, nil
}

// lastClaim returns the task's last claim link, nil when it has none.
func lastClaim(ctx context.Context, s archiver.Store, org, id string) (*claimLink, error) {
	var last string
	if err := s.List(ctx, claimPrefix(org, id), func(k string) error {
		if _, ok := claimSeq(k[len(taskPrefix(org, id)):]); ok {
			last = k
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("claim: list: %w", err)
	}
	if last == "" {
		return nil, nil
	}
	return readClaim(ctx, s, org, id, last)
}

// claim is this process's hold on a task.
type claim struct {
	e   *Engine
	r   taskRef
	seq int // the last link this holder created
	// prev is the link before the holder's first (nil for the task's first claim): one
	// that commits an outcome (Outcome set) is a holder's whose outcome object may not be
	// written yet (Engine.commitPrevious).
	prev *claimLink
	// done: the holder's last link committed the task's outcome and released the claim.
	done bool
}

// acquire takes the task's claim for e.ClaimTTL, or returns errClaimHeld.
func (e *Engine) acquire(ctx context.Context, r taskRef) (*claim, error) {
	last, err := lastClaim(ctx, e.Store, r.org, r.id)
	if err != nil {
		return nil, err
	}
	seq := 1
	if last != nil {
		// Live: another replica runs it (or a worker of this process, which take keeps
		// from running it twice).
		if e.claimLive(r, last, e.Now()) {
			return nil, errClaimHeld
		}
		seq = last.Seq + 1
	}
	c := &claim{e: e, r: r, prev: last}
	if err := c.link(ctx, seq, false); err != nil {
		if errors.Is(err, errClaimLost) {
			return nil, errClaimHeld // another replica created the same link first
		}
		return nil, err
	}
	if last != nil && !last.Released {
		// Its holder stopped renewing: it died, or stalled and will find out.
		e.metrics.claims.WithLabelValues("taken_over").Inc()
		e.Logger.Warn("export task taken over from a replica that stopped renewing its claim",
			"org", r.org, "task", r.id, "holder", last.Holder, "expired", last.Expires)
	}
	return c, nil
}

// link creates link seq of c's chain: a renewal until now+ClaimTTL, or a release.
func (c *claim) link(ctx context.Context, seq int, release bool) error {
	now := c.e.Now().UTC()
	l := claimLink{Seq: seq, Holder: c.e.Holder, Expires: now.Add(c.e.ClaimTTL), Released: release}
	if release {
		l.Expires = now
	}
	return c.create(ctx, l)
}

// commit creates c's next link, released, committing the outcome object name whose bytes
// have SHA-256 sum: errClaimLost when another replica created that link first.
func (c *claim) commit(ctx context.Context, name, sum string) error {
	l := claimLink{Seq: c.seq + 1, Holder: c.e.Holder, Expires: c.e.Now().UTC(), Released: true, Outcome: name, OutcomeSHA256: sum}
	if err := c.create(ctx, l); err != nil {
		return err
	}
	c.done = true
	return nil
}

// create creates link l.Seq of c's chain, create-only: errClaimLost when it exists.
func (c *claim) create(ctx context.Context, l claimLink) error {
	seq := l.Seq
	err := putJSON(ctx, c.e.Store, claimKey(c.r.org, c.r.id, seq), l)
	if errors.Is(err, archiver.ErrConflict) {
		return errClaimLost
	}
	if err != nil {
		return fmt.Errorf("claim %s: %w", claimKey(c.r.org, c.r.id, seq), err)
	}
	c.seq = seq
	return nil
}

// held returns errClaimLost when a link after c's last exists (another replica took the
// task over), and errFinished when the task has an outcome already: one listing of the
// task's objects, right before c's holder records its outcome (Engine.finish).
func (c *claim) held(ctx context.Context) error {
	prefix := taskPrefix(c.r.org, c.r.id)
	last, finished := 0, false
	err := c.e.Store.List(ctx, prefix, func(key string) error {
		name := key[len(prefix):]
		if seq, ok := claimSeq(name); ok && seq > last {
			last = seq
		}
		if name == "completed.json" || name == "failed.json" {
			finished = true
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("claim: list: %w", err)
	case last != c.seq:
		return errClaimLost
	case finished:
		return errFinished
	}
	return nil
}

// renew extends the claim; errClaimLost when another replica took the task over.
func (c *claim) renew(ctx context.Context) error { return c.link(ctx, c.seq+1, false) }

// release ends the claim, so that any replica may take the task at once. A claim already
// lost needs no release.
func (c *claim) release(ctx context.Context) error {
	if c.done {
		return nil // the link that committed the outcome released it
	}
	err := c.link(ctx, c.seq+1, true)
	if errors.Is(err, errClaimLost) {
		return nil
	}
	return err
}

// keep renews c every ClaimTTL/3 until stop is closed; when another replica took the task
// over (c was not renewed in time) it cancels the run with errClaimLost. A renewal the
// store refuses is retried at the next tick: the claim holds until its expiry.
func (c *claim) keep(ctx context.Context, lost context.CancelCauseFunc, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-c.e.After(c.e.ClaimTTL / 3):
		}
		err := c.renew(ctx)
		switch {
		case errors.Is(err, errClaimLost):
			c.e.Logger.Warn("export task taken over by another replica; this run stops", "org", c.r.org, "task", c.r.id)
			lost(errClaimLost)
			return
		case err != nil && ctx.Err() == nil:
			c.e.Logger.Warn("export task claim not renewed; retrying", "org", c.r.org, "task", c.r.id, "err", err)
		}
	}
}

// handback is handback-<n>.json: attempt n was cut short by a shutdown and the task handed
// back, so the attempt does not count towards maxAttempts.
type handback struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Holder  string    `json:"holder"`
}

func handbackKey(org, id string, n int) string {
	return fmt.Sprintf("%shandback-%04d.json", taskPrefix(org, id), n)
}

// TooManyTasksError refuses a task to an organization that already has Limit tasks
// queued or running (exports.maxTasksPerOrg; API 429 too_many_tasks).
type TooManyTasksError struct {
	Limit int
}

func (e *TooManyTasksError) Error() string {
	return fmt.Sprintf("the organization already has %d export tasks queued or running, the most exports.maxTasksPerOrg allows; "+
		"retry when one of them has finished", e.Limit)
}

// unfinished counts the organization's tasks without an outcome (queued or running).
func (e *Engine) unfinished(ctx context.Context, org string) (int, error) {
	// The open-task index names them: its entries for org, each checked (openindex.go).
	if d, ready, err := e.openIndexReady(ctx); err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	} else if ready {
		open, err := e.openTasks(ctx, d, openPrefix+org+"/")
		if err != nil {
			return 0, fmt.Errorf("count tasks: %w", err)
		}
		return len(open), nil
	}
	prefix := archiver.TasksPrefix + org + "/"
	n := 0
	var cur string
	var req, done bool
	flush := func() {
		if req && !done {
			n++
		}
	}
	err := e.Store.List(ctx, prefix, func(key string) error {
		id, name, ok := strings.Cut(key[len(prefix):], "/")
		if !ok || !ValidID(id) {
			return nil
		}
		if id != cur {
			flush()
			cur, req, done = id, false, false
		}
		switch name {
		case "request.json":
			req = true
		case "completed.json", "failed.json":
			done = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	flush()
	return n, nil
}
