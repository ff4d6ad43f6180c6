package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// DayLedger is what the scheduler and the freshness metrics read of an organization's
// days (ledger.Ledger).
type DayLedger interface {
	// ListDays calls fn, oldest first, with each day from `from` on that has a day index
	// or a failed attempt, from one listing that starts at from; fn may return
	// archiver.ErrStopListing.
	ListDays(ctx context.Context, org string, from archiver.Day, fn func(ledger.DayKeys) error) error
	// DayKeys is one listing of one day's objects.
	DayKeys(ctx context.Context, org string, day archiver.Day) (ledger.DayKeys, error)
}

// dayIndex remembers, per organization, what the store said of its days, so that each
// look after the first reads only what can have changed since:
//
//   - the days after the organization's last sealed day: one listing that starts at it
//     (ledger.Ledger.ListDays), which lists only that day's objects when no day was
//     sealed since;
//   - the gaps: days before the last sealed one that were not sealed when last looked (a
//     partition delivered late, a seal that failed while later days sealed), each looked
//     up on its own until it is sealed (ledger.Ledger.DayKeys).
//
// Why this is safe: a sealed day never becomes unsealed (the store is create-only and a
// day index is never removed) — except when the store is restored from an older backup,
// which loses the latest days: the listing starts at the last sealed day to see it still
// sealed, and lists the organization afresh when it is not (list). Otherwise a day seen sealed need never be looked at again; and
// every day not seen sealed is either after the last sealed day (listed at every look)
// or a gap (looked up at every look). A day sealed by another process (a replica, a
// CronJob's `chatvault run`) is seen at the next look either way. The first look at an
// organization in a process, and one after its archivalStart moved back, lists its days
// once from archivalStart: that is where the gaps are found.
//
// A look at an organization thus costs one request plus one per gap, whatever its
// history; the first costs one listing of its history.
type dayIndex struct {
	mu   sync.Mutex
	orgs map[string]*orgDays
}

// orgDays is what is known of one organization's days from `from` on.
type orgDays struct {
	from archiver.Day
	// last is the latest sealed day (zero: none since from).
	last archiver.Day
	// gaps are the days from..last not sealed at the last look, oldest first.
	gaps []archiver.Day
}

// orgView is an organization's days as one look found them, for the days from..today
// (exclusive): every day is sealed except the gaps and the days from after on.
type orgView struct {
	last  archiver.Day
	gaps  []archiver.Day
	after archiver.Day // the first day after last (from when none is sealed)
	// failed are the days not sealed whose latest attempt failed.
	failed map[archiver.Day]bool
}

// unsealed calls fn with every day not sealed before today, oldest first.
func (v orgView) unsealed(today archiver.Day, fn func(archiver.Day)) {
	for _, d := range v.gaps {
		fn(d)
	}
	for d := v.after; d.Before(today); d = d.Next() {
		fn(d)
	}
}

// look brings what is known of org up to date for the days from..today (exclusive).
func (x *dayIndex) look(ctx context.Context, l DayLedger, org string, from, today archiver.Day) (orgView, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.orgs == nil {
		x.orgs = map[string]*orgDays{}
	}
	o := x.orgs[org]
	fresh := o == nil || from.Before(o.from)
	if fresh {
		o = &orgDays{from: from}
	} else if from.After(o.from) {
		// archivalStart moved forward: the days before it are no longer wanted.
		o.from = from
		o.gaps = slices.DeleteFunc(o.gaps, func(d archiver.Day) bool { return d.Before(from) })
		if o.last.Before(from) {
			o.last = archiver.Day{}
		}
	}
	v := orgView{failed: map[archiver.Day]bool{}}
	if !fresh {
		gaps := o.gaps[:0]
		for _, g := range o.gaps {
			k, err := l.DayKeys(ctx, org, g)
			if err != nil {
				return v, fmt.Errorf("look up %s of %s: %w", g, org, err)
			}
			if k.Revision != "" {
				continue
			}
			if k.Failed != "" {
				v.failed[g] = true
			}
			gaps = append(gaps, g)
		}
		o.gaps = gaps
	}
	// The listing starts at the last sealed day itself, not past it, to see that it is
	// still sealed: a store restored from an older backup has lost it (and perhaps days
	// before it), and then the organization's days are listed afresh from its start.
	next, last, gaps, lost, err := x.list(ctx, l, org, o, today, v)
	if err == nil && lost {
		o = &orgDays{from: o.from}
		next, last, gaps, _, err = x.list(ctx, l, org, o, today, v)
	}
	if err != nil {
		return v, err
	}
	o.last, o.gaps = last, gaps
	x.orgs[org] = o
	v.last, v.gaps, v.after = last, slices.Clone(gaps), next
	return v, nil
}

// list is look's one listing, from o's last sealed day (or its start when none) to today.
// It returns the first day after the last sealed one, that day, the gaps, and whether o's
// remembered last sealed day was not found sealed. Nothing of o changes: a listing cut
// halfway must not lose the gaps it had found.
func (x *dayIndex) list(ctx context.Context, l DayLedger, org string, o *orgDays, today archiver.Day, v orgView) (next, last archiver.Day, gaps []archiver.Day, lost bool, err error) {
	start, check := o.from, !o.last.IsZero()
	if check {
		start = o.last
	}
	next, last = start, o.last // next: the first day after the last sealed one seen
	if check {
		next = o.last.Next()
	}
	gaps = slices.Clone(o.gaps)
	seen := false
	err = l.ListDays(ctx, org, start, func(k ledger.DayKeys) error {
		if check && !seen {
			seen = true
			if k.Day.Before(o.last) || k.Day.After(o.last) || k.Revision == "" {
				lost = true
				return archiver.ErrStopListing
			}
			return nil
		}
		if !k.Day.Before(today) {
			return archiver.ErrStopListing
		}
		if k.Day.Before(start) {
			return nil
		}
		if k.Revision == "" {
			if k.Failed != "" {
				v.failed[k.Day] = true // a gap if a later day is sealed, else after last
			}
			return nil
		}
		for d := next; d.Before(k.Day); d = d.Next() {
			gaps = append(gaps, d)
		}
		next, last = k.Day.Next(), k.Day
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return next, last, gaps, false, fmt.Errorf("list the days of %s: %w", org, err)
	}
	return next, last, gaps, lost || (check && !seen), nil
}

// forget drops what is known of the organizations not in keep (no longer archiving).
func (x *dayIndex) forget(keep map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for org := range x.orgs {
		if !keep[org] {
			delete(x.orgs, org)
		}
	}
}
