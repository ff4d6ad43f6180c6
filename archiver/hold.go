package archiver

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Legal holds are per organization and per matter (a case, an investigation): each
// `hold --on` or `--off` is recorded as a create-only hold event in the store, so that
// the holds' history is itself evidence, and the S3 legal hold of each object follows
// from all the events together:
//
//   - an organization's own objects of a day (its exports, day indexes, failure records
//     and the chain entries of the day's manifests) are held while any of its matters
//     holds that day;
//   - the day's shared objects (the quarantine object and the accounting objects, which
//     belong to every organization of the day) are held while any matter of any
//     organization holds that day;
//   - the organization's objects that several of its days name (members objects, captured
//     attachment files and their URL records) are held while any held day of the
//     organization names them; the day's revision records and attachment indexes are its
//     own (hold_attach.go).
//
// So lifting one organization's hold, or one matter's, never releases what another
// still holds.
//
//	holds/<org>/<matter>/<time>-on.json   (or -off.json)   a hold event

// HoldsPrefix starts the keys of hold events.
const HoldsPrefix = "holds/"

// HoldEvent is one placing (On) or lifting of an organization's legal hold for one
// matter over the days From..To.
type HoldEvent struct {
	Org    string `json:"org"`
	Matter string `json:"matter"`
	On     bool   `json:"on"`
	From   string `json:"from"`
	To     string `json:"to"`
	// At is when the event was recorded (RFC 3339, UTC); By who recorded it, as the
	// command saw it (user@host).
	At string `json:"at"`
	By string `json:"by,omitempty"`
	// Key is where the event is stored (not stored in it).
	Key string `json:"-"`
}

// Days returns the first and last day the event's hold covers.
func (ev HoldEvent) Days() (Day, Day, error) {
	from, err := ParseDay(ev.From)
	if err != nil {
		return from, from, err
	}
	to, err := ParseDay(ev.To)
	if err != nil {
		return from, to, err
	}
	if to.Before(from) {
		return from, to, fmt.Errorf("to %s is before from %s", to, from)
	}
	return from, to, nil
}

// ActiveHold is one matter's hold on an organization's days, as the events leave it.
type ActiveHold struct {
	Org, Matter string
	// Days are the held days, in order.
	Days []Day
	// Since is when the earliest event still in force was recorded.
	Since string
}

// HoldState replays hold events: for each organization and matter, the days held.
// Days are keyed by their spelling: a Day holds a time.Time, which == compares by location
// too.
type HoldState map[string]map[string]map[string]string // org → matter → day → since

// ReplayHolds returns the holds in force after events, in order.
func ReplayHolds(events []HoldEvent) HoldState {
	st := HoldState{}
	for _, ev := range events {
		from, to, err := ev.Days()
		if err != nil {
			continue // HoldEvents refuses such events
		}
		if st[ev.Org] == nil {
			st[ev.Org] = map[string]map[string]string{}
		}
		days := st[ev.Org][ev.Matter]
		if days == nil {
			days = map[string]string{}
			st[ev.Org][ev.Matter] = days
		}
		for d := from; !d.After(to); d = d.Next() {
			if !ev.On {
				delete(days, d.String())
			} else if _, ok := days[d.String()]; !ok {
				days[d.String()] = ev.At
			}
		}
	}
	return st
}

// OrgHolds reports whether any matter of org holds day.
func (st HoldState) OrgHolds(org string, day Day) bool {
	for _, days := range st[org] {
		if _, ok := days[day.String()]; ok {
			return true
		}
	}
	return false
}

// AnyHolds reports whether any organization holds day.
func (st HoldState) AnyHolds(day Day) bool {
	for org := range st {
		if st.OrgHolds(org, day) {
			return true
		}
	}
	return false
}

// ActiveHolds returns the holds in force after events, by organization and matter.
func ActiveHolds(events []HoldEvent) []ActiveHold {
	var out []ActiveHold
	for org, matters := range ReplayHolds(events) {
		for matter, days := range matters {
			if len(days) == 0 {
				continue
			}
			h := ActiveHold{Org: org, Matter: matter}
			for d, since := range days {
				day, err := ParseDay(d)
				if err != nil {
					continue // replayHolds keys days by their spelling
				}
				h.Days = append(h.Days, day)
				if h.Since == "" || since < h.Since {
					h.Since = since
				}
			}
			slices.SortFunc(h.Days, func(a, b Day) int { return a.Start().Compare(b.Start()) })
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b ActiveHold) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		return strings.Compare(a.Matter, b.Matter)
	})
	return out
}

// applyHolds places the legal hold on what this run stored for a day that a recorded hold
// already covers (a hold placed over days not sealed yet, or a new revision of a held
// day): each organization's new objects when one of its matters holds the day, the day's
// quarantine and accounting objects when any does. Holds are only ever placed here,
// never lifted. One listing of the hold events per run.
func (w *writer) applyHolds(ctx context.Context) error {
	lk, ok := w.s.Store.(Locker)
	if !ok || !lk.Locking() {
		return nil
	}
	l := w.s.Chain
	events, err := l.HoldEvents(ctx, "")
	if err != nil || len(events) == 0 {
		return err
	}
	st := ReplayHolds(events)
	// A key a manifest or an attachment index names but the store does not hold is
	// verify's finding, not a reason to leave the rest unheld.
	set := func(key string) error {
		if _, err := SetLegalHoldFound(ctx, lk, key, true); err != nil {
			return fmt.Errorf("legal hold of %s: %w", key, err)
		}
		return nil
	}
	if st.AnyHolds(w.day) {
		for _, key := range []string{w.res.Accounting} {
			if key != "" {
				if err := set(key); err != nil {
					return err
				}
			}
		}
		if q := w.res.Quarantine; q != nil {
			if err := set(q.Key); err != nil {
				return err
			}
		}
	}
	for _, c := range w.commits {
		if !st.OrgHolds(c.Org, w.day) {
			continue
		}
		if c.Err != nil || c.manifestSHA256 == "" {
			// A refused revision commits nothing but records its refusal under
			// revisions/: evidence of the held day too.
			keys, err := l.RevisionEvents(ctx, c.Org, w.day)
			if err != nil {
				return fmt.Errorf("legal hold: %w", err)
			}
			for _, key := range keys {
				if err := set(key); err != nil {
					return err
				}
			}
			continue
		}
		// What the day holds now, this commit's objects among them, as the ledger finds
		// it (one listing and a read per revision, for held organizations only, and the
		// day's revision events and attachment objects): the writer does not spell the
		// keys of its layout here.
		objs, err := l.Holdings(ctx, c.Org, w.day)
		if err != nil {
			return fmt.Errorf("legal hold: %w", err)
		}
		for _, key := range append(objs.Keys, objs.Shared...) {
			if err := set(key); err != nil {
				return err
			}
		}
		if c.Quarantined != nil && !slices.Contains(objs.Keys, c.Quarantined.Key) {
			if err := set(c.Quarantined.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// VersionHolder is a Locker that can set the legal hold of one version of a key (the S3
// store).
type VersionHolder interface {
	SetLegalHoldVersion(ctx context.Context, key, versionID string, on bool) error
}

// setLegalHold places or lifts the legal hold on every version of key. A key holds one
// version unless someone with write access put another over it: the sealed one, which
// the manifest names and the API serves, is then no longer the current version, and a
// hold on the current version alone would keep the replacement and let the sealed records
// expire. The replacement is held too: it is evidence of that write.
func setLegalHold(ctx context.Context, lk Locker, key string, on bool) error {
	vh, ok := lk.(VersionHolder)
	if !ok {
		return lk.SetLegalHold(ctx, key, on)
	}
	var versions []string
	if err := lk.Versions(ctx, key, func(v ObjectVersion) error {
		if v.Key == key && !v.DeleteMarker && v.VersionID != "" {
			versions = append(versions, v.VersionID)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(versions) == 0 {
		return lk.SetLegalHold(ctx, key, on)
	}
	for _, id := range versions {
		if err := vh.SetLegalHoldVersion(ctx, key, id, on); err != nil {
			return err
		}
	}
	return nil
}
