package verify

import (
	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"

	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/chatvault/chatvault/model"
)

// dayRange is the days from First to Last, inclusive.
type dayRange struct{ First, Last archiver.Day }

func (r dayRange) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return fmt.Sprintf("%s to %s (%d days)", r.First, r.Last, r.days())
}

func (r dayRange) days() int { return int(r.Last.Start().Sub(r.First.Start()).Hours()/24) + 1 }

// missingDays returns the days from first to last (inclusive) that are not in have.
func missingDays(have map[archiver.Day]bool, first, last archiver.Day) []dayRange {
	var out []dayRange
	for d := first; !d.After(last); d = d.Next() {
		if have[d] {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Last.Next() == d {
			out[n-1].Last = d
			continue
		}
		out = append(out, dayRange{d, d})
	}
	return out
}

func joinRanges(rs []dayRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// checkCoverage checks every archiving organization of the directory against its chain:
// every day from its first expected day to the newest day sealed in the store has a
// committed manifest.
//
// The last day expected is the store's newest sealed day (of any organization), not the
// organization's own: a nightly run seals every archiving organization, even one with no
// messages (an empty day still gets a manifest), so an organization whose newest day is
// older than the store's has lost its newest days, or was left out of a run. Deleting an
// organization's head manifest and its day is then caught whenever another organization
// was sealed that day; deleting the newest day of every organization at once leaves no
// trace in the store itself, which is what the witness is for (see witness.go).
//
// The first day expected is the organization's archivalStart, or, when its chain begins
// later, the chain's first day: manifest 1 names no previous manifest, so the chain proves
// that nothing before its first day was ever committed, and those days are a backlog that
// was never sealed, not a deletion (reported as a warning, since the archive does not
// hold them). An archiving organization with no manifest at all although its
// archivalStart (or, without one, the store's newest day) has been sealed for others is a
// problem: it cannot be told from an organization whose every object was deleted.
func (s *state) checkCoverage(rep *Report) {
	if s.archiving == nil {
		return
	}
	var newest archiver.Day
	for _, c := range s.chains {
		if c.last.After(newest) {
			newest = c.last
		}
	}
	if newest.IsZero() {
		return // an empty store: the caller reports it
	}
	if s.newestElsewhere.After(newest) {
		newest = s.newestElsewhere // with Org: the other organizations' newest day
	}
	// A chain the directory does not list as archiving (archival turned off, or a stale or
	// wrong directory) is still walked and re-hashed, but nothing says which of its days
	// should exist: name it, so a wrong --directory cannot quietly check less.
	for _, id := range slices.Sorted(maps.Keys(s.chains)) {
		if c := s.chains[id]; s.archiving[id].ID == "" && !c.first.IsZero() {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("organization %s has a chain in the store (%s to %s) but is not an archiving "+
				"organization of the directory verify read: its days are not checked for completeness", id, c.first, c.last))
		}
	}
	ids := make([]string, 0, len(s.archiving))
	for id := range s.archiving {
		if s.opt.Org == "" || id == s.opt.Org {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		o := s.archiving[id]
		start, err := archiver.ParseDay(o.ArchivalStart)
		hasStart := err == nil
		if hasStart && start.After(newest) {
			continue // archiving starts after the newest sealed day
		}
		c := s.chains[id]
		if c == nil || c.first.IsZero() {
			from := newest
			if hasStart {
				from = start
			}
			r := dayRange{from, newest}
			rep.problem("organization %s (%s), archiving (archivalStart %s), has no manifest: %s not sealed, although "+
				"the store is sealed through %s (the organization's objects were deleted, or it was never sealed)",
				id, o.Name, startOrNone(o.ArchivalStart), r, newest)
			continue
		}
		if hasStart && start.Before(c.first) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("organization %s (%s): %s from its archivalStart were never sealed "+
				"(its chain begins on %s with manifest 1); run chatvault run --from %s --to %s to archive them",
				id, o.Name, dayRange{start, c.first.Prev()}, c.first, start, c.first.Prev()))
		}
		if len(c.gaps) > 0 {
			rep.problem("organization %s (%s): no committed manifest for %s, inside its sealed range %s to %s",
				id, o.Name, joinRanges(c.gaps), c.first, c.last)
		}
		if c.last.Before(newest) {
			rep.problem("organization %s (%s): newest sealed day is %s but the store is sealed through %s: "+
				"%s missing (the newest days were deleted, or left out of a run)",
				id, o.Name, c.last, newest, dayRange{c.last.Next(), newest})
		}
	}
}

// newestElsewhere returns, for a verification of org alone, a lower bound of the store's
// newest sealed day taken from the rest of the store: the newest day of the accounting
// objects' names, and the day of each other archiving organization's head manifest.
// Without it, --org would end org's expected days at its own newest day, and deleting
// that day (with the accounting objects naming it) would pass. It is a lower bound (a
// head is usually, not always, the newest day: a backlog run appends older days), so it
// never reports what a verification of the whole store would not. It reads one listing of
// accounting/, one of each organization's manifests and one manifest per organization. An
// unreadable head is a problem in rep: left out, it would lower the bound, and whoever
// deleted org's newest day could make every other head unreadable to hide it.
func newestElsewhere(ctx context.Context, l ledger.Ledger, org string, archiving map[string]model.Organization, rep *Report) (archiver.Day, error) {
	var newest archiver.Day
	note := func(d archiver.Day) {
		if d.After(newest) {
			newest = d
		}
	}
	if err := l.Store.List(ctx, archiver.AccountingPrefix, func(key string) error {
		if d, _, _, ok := archiver.ParseAccountingKey(key); ok {
			note(d)
		}
		return nil
	}); err != nil {
		return archiver.Day{}, fmt.Errorf("verify: list %s: %w", archiver.AccountingPrefix, err)
	}
	for id := range archiving {
		if id == org || archiver.CheckKey(archiver.ChainPrefix(id)+"x") != nil {
			continue
		}
		// The head, in either layout (the ledger's lookup: a few requests, not a walk).
		head, err := l.Head(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return archiver.Day{}, ctx.Err()
		case err != nil:
			rep.problem("organization %s: its chain head does not read (%v): the store's newest sealed day, which organization %s's "+
				"days are checked up to, is not known from it", id, err, org)
			continue
		case head == nil:
			continue
		}
		d, err := archiver.ParseDay(head.Date)
		if err != nil {
			continue
		}
		note(d)
		if head.Late {
			// A late head is a revision of an older day: the newest day is the tip's,
			// among the days sealed after it (one bounded listing).
			if err := l.SealedDaysFrom(ctx, id, d, func(d archiver.Day) error { note(d); return nil }); err != nil {
				return archiver.Day{}, err
			}
		}
	}
	return newest, nil
}

func startOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
