package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// The ledger's readers of layout 3 (archiver/layout.go, docs/design/layout.md). A store
// without a layout marker is read as layout 2 alone; one with it, in layout 3 first and,
// for the days before the marker's since, in layout 2 as well (lookIn).

// lookIn says where a day is looked up: in layout 3 when the store has a marker, in layout
// 2 when it has none or the day comes before its since.
func lookIn(sl *archiver.StoreLayout, day archiver.Day) (layout3, layout2 bool) {
	if sl == nil {
		return false, true
	}
	since := sl.SinceDay()
	return true, since.IsZero() || day.IsZero() || day.Before(since)
}

// latestKey returns the key of the day's latest manifest (see Latest), "" when none.
func (l Ledger) latestKey(ctx context.Context, org string, day archiver.Day) (string, error) {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return "", err
	}
	inNew, inOld := lookIn(sl, day)
	if inNew {
		k, err := l.dayKeys3(ctx, org, day)
		if err != nil || k.Revision != "" || !inOld {
			return k.Revision, err
		}
	}
	return lastKey(ctx, l.Store, archiver.RevisionPrefix(org, day))
}

// dayKeys3 is DayKeys in layout 3: one listing of the day's prefix.
func (l Ledger) dayKeys3(ctx context.Context, org string, day archiver.Day) (DayKeys, error) {
	k := DayKeys{Day: day}
	p := archiver.DayPrefix3(org, day)
	err := l.Store.List(ctx, p, func(key string) error {
		name := key[len(p):]
		switch {
		case archiver.IsRevisionName(name):
			k.Revision = key // manifests sort last, revisions in order: the last is the latest
		case strings.HasPrefix(name, "failed-"):
			k.Failed = key
		}
		return nil
	})
	return k, err
}

// parseFailedMs returns the time, in epoch ms, a failed attempt's key names
// (…failed-<ms>.json, in either layout).
func parseFailedMs(key string) (int64, error) {
	i := strings.LastIndex(key, "failed-")
	if i < 0 {
		return 0, fmt.Errorf("%s: not a failed attempt", key)
	}
	return strconv.ParseInt(strings.TrimSuffix(key[i+len("failed-"):], ".json"), 10, 64)
}

// laterFailed returns the later of two failed attempts' keys (either may be "").
func laterFailed(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	ma, errA := parseFailedMs(a)
	mb, errB := parseFailedMs(b)
	if errA != nil || (errB == nil && mb > ma) {
		return b
	}
	return a
}

// lastFailedKey returns the key of the day's latest failed attempt, "" when none: in
// layout 3 and, for a day before since, in layout 2 when layout 3 has none (a failure in
// layout 3 comes after every one in layout 2: no layout-2 writer writes beside a marker).
func (l Ledger) lastFailedKey(ctx context.Context, org string, day archiver.Day) (string, error) {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return "", err
	}
	inNew, inOld := lookIn(sl, day)
	if inNew {
		key, err := lastKey(ctx, l.Store, archiver.FailedPrefix3(org, day))
		if err != nil || key != "" || !inOld {
			return key, err
		}
	}
	return lastKey(ctx, l.Store, archiver.FailedPrefix(org, day))
}

// listDays3 is ListDays in layout 3: one listing of the organization's d/ from `from`'s
// first key on.
func (l Ledger) listDays3(ctx context.Context, org string, from archiver.Day, fn func(DayKeys) error) error {
	root := archiver.DayRoot3(org)
	startAfter := ""
	if !from.IsZero() {
		startAfter = archiver.DayStart3(org, from)
	}
	var cur DayKeys
	have := false
	flush := func() error {
		if have && (cur.Revision != "" || cur.Failed != "") {
			return fn(cur)
		}
		return nil
	}
	err := archiver.ListAfter(ctx, l.Store, root, startAfter, func(key string) error {
		day, name, ok := archiver.ParseDayKey3(org, key)
		if !ok {
			return nil // not a day key of ours; verify reports it
		}
		if !have || day != cur.Day {
			if err := flush(); err != nil {
				return err
			}
			cur, have = DayKeys{Day: day}, true
		}
		switch {
		case archiver.IsRevisionName(name):
			cur.Revision = key
		case strings.HasPrefix(name, "failed-"):
			cur.Failed = key
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

// listDaysMixed is ListDays in a store with a layout marker: the days before since are
// listed in layout 2 too (a first listing, kept: at most the days from `from` to since),
// and merged, in day order, with the listing of layout 3.
func (l Ledger) listDaysMixed(ctx context.Context, org string, from, since archiver.Day, fn func(DayKeys) error) error {
	var old []DayKeys
	if since.IsZero() || from.IsZero() || from.Before(since) {
		err := l.listDays2(ctx, org, from, func(k DayKeys) error {
			if !since.IsZero() && !k.Day.Before(since) {
				return archiver.ErrStopListing
			}
			old = append(old, k)
			return nil
		})
		if err != nil {
			return err
		}
	}
	emitOld := func(before archiver.Day, all bool) error {
		for len(old) > 0 && (all || old[0].Day.Before(before)) {
			k := old[0]
			old = old[1:]
			if err := fn(k); err != nil {
				return err
			}
		}
		return nil
	}
	err := l.listDays3(ctx, org, from, func(k DayKeys) error {
		if err := emitOld(k.Day, false); err != nil {
			return err
		}
		if len(old) > 0 && old[0].Day == k.Day {
			o := old[0]
			old = old[1:]
			if k.Revision == "" {
				k.Revision = o.Revision
			}
			k.Failed = laterFailed(k.Failed, o.Failed)
		}
		return fn(k)
	})
	if err == nil {
		err = emitOld(archiver.Day{}, true)
	}
	if errors.Is(err, archiver.ErrStopListing) {
		return nil
	}
	return err
}

// head3 is Head in a store with a layout marker. The head is the greater in seq of the
// tip (the last manifest key under d/) and the last late copy; an organization without a
// layout-3 manifest has its head in layout 2 (head2).
//
// With a hint (the head this process found last): one listing of d/ after the tip then,
// one of late/ after the head's seq, and one read of the newest of what they show, or of
// the hinted head when they show nothing: 3 requests (4 when both show something). An
// organization whose d/ was empty then and still is: one listing, then head2 from its hint.
//
// Without: one listing of d/ from this year on (one page: a year of days), the tip's read,
// one listing of late/ after its seq and, when a late copy is greater, its read: 3–4
// requests. An organization not sealed this year lists d/ once more, from its start (for
// its first year), and then year by year backwards until a manifest (at most the
// archive's years); one without a layout-3 manifest goes on with head2.
func (l Ledger) head3(ctx context.Context, org string, h archiver.HeadHint) (*archiver.StoredManifest, error) {
	root := archiver.DayRoot3(org)
	if h.Layout3 {
		tip, err := lastManifestAfter(ctx, l.Store, org, root, h.Tip)
		if err != nil {
			return nil, err
		}
		if tip == "" && h.Tip == "" {
			return l.head2Marked(ctx, org, h, false)
		}
		if tip == "" {
			tip = h.Tip
		}
		m, err := l.headFromTip(ctx, org, tip, h)
		if err != nil || m != nil {
			return m, err
		}
		// The hinted head is gone (not this store's chain): look again, without the hint.
	}
	tip, old, err := l.findTip3(ctx, org)
	if err != nil {
		return nil, err
	}
	if tip == "" {
		return l.head2Marked(ctx, org, h, old)
	}
	return l.headFromTip(ctx, org, tip, archiver.HeadHint{})
}

// head2Marked is head2 for an organization of a store with a layout marker whose d/ holds
// no manifest: it remembers that d/ was empty (tip ""), so that the next Head lists d/
// once, whole (what is there was committed since), before head2.
//
// In a store sealed in layout 3 from its first day (its marker's since is FreshStoreSince)
// no organization has a layout-2 chain: none, without probing. The marker is not signed,
// though, and whoever can write to a store not upgraded yet could create it first: then
// every organization's chain would start again at seq 1 beside its old one, a fork a
// locking store keeps for good. So the first time a process finds an organization's d/
// empty, the listing that found it so (findTip3) tells whether the organization has
// old-layout keys, and Head fails with ErrForgedLayout when it has.
func (l Ledger) head2Marked(ctx context.Context, org string, h archiver.HeadHint, old bool) (*archiver.StoredManifest, error) {
	prev := archiver.HeadHint{}
	if archiver.KeyLayout(h.Key) == archiver.Layout2 {
		prev = archiver.HeadHint{Seq: h.Seq, Key: h.Key}
	}
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return nil, err
	}
	var m *archiver.StoredManifest
	if sl == nil || sl.SinceDay() != archiver.FreshStoreSince {
		if m, err = l.head2(ctx, org, prev); err != nil {
			return nil, err
		}
	} else if old {
		return nil, fmt.Errorf("%s: %w: it says the store was sealed in layout 3 from its first day (since %s), but organization %s "+
			"has an old-layout chain (%s): a marker created by someone with write access to the store? Sealing on it would start the "+
			"chain again at seq 1", archiver.LayoutKey, archiver.ErrForgedLayout, sl.Since, org, archiver.ChainPrefix(org))
	}
	if hk, ok := archiver.HeadHintKeyOf(l.Store, org); ok {
		hint := archiver.HeadHint{Layout3: true}
		if m != nil {
			hint.Seq, hint.Key = m.Seq, m.Key
		}
		archiver.HeadHints.Store(hk, hint)
	}
	return m, nil
}

// headFromTip returns the head given the tip: the tip's manifest, or the last late copy
// when its seq is greater. h, when it names a head, saves the tip's read when the tip did
// not move; nil when h's head is gone.
func (l Ledger) headFromTip(ctx context.Context, org, tip string, h archiver.HeadHint) (*archiver.StoredManifest, error) {
	var head *archiver.StoredManifest
	after := int64(0)
	if h.Layout3 && tip == h.Tip && h.Seq > 0 {
		after = h.Seq // the tip did not move: the head is h's, or a later late copy
	} else {
		m, err := l.readManifest(ctx, tip)
		if err != nil {
			return nil, err
		}
		head, after = m, m.Seq
		if h.Seq > after {
			after = h.Seq
		}
	}
	late, err := lastKeyAfter(ctx, l.Store, archiver.LatePrefix(org), archiver.LateKey(org, after))
	if err != nil {
		return nil, err
	}
	switch {
	case late != "":
		m, err := l.readManifest(ctx, late)
		if err != nil {
			return nil, err
		}
		if head == nil || m.Seq > head.Seq {
			head = m
		}
	case head == nil || head.Seq < h.Seq:
		m, err := l.readManifest(ctx, h.Key)
		if errors.Is(err, archiver.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		head = m
	}
	if hk, ok := archiver.HeadHintKeyOf(l.Store, org); ok {
		archiver.HeadHints.Store(hk, archiver.HeadHint{Seq: head.Seq, Key: head.Key, Tip: tip, Layout3: true})
	}
	return head, nil
}

// lastManifestAfter returns the last manifest key under org's d/ after startAfter, "" when
// none.
func lastManifestAfter(ctx context.Context, s archiver.Store, org, root, startAfter string) (string, error) {
	var last string
	err := archiver.ListAfter(ctx, s, root, startAfter, func(key string) error {
		if _, name, ok := archiver.ParseDayKey3(org, key); ok && archiver.IsRevisionName(name) {
			last = key
		}
		return nil
	})
	return last, err
}

// findTip3 returns org's tip, the last manifest key under d/, "" when d/ holds none (see
// head3). The listings are bounded by a year each.
func (l Ledger) findTip3(ctx context.Context, org string) (tip string, old bool, err error) {
	root := archiver.DayRoot3(org)
	year := time.Now().UTC().Year()
	// This year and anything after it (a clock behind the archive's days).
	tip, err = lastManifestAfter(ctx, l.Store, org, root, fmt.Sprintf("%s%04d", root, year))
	if err != nil || tip != "" {
		return tip, false, err
	}
	// The first manifest key under d/ or, when d/ holds none, the first key after it:
	// d/ sorts before the old layout's days/ and manifests/, so that the listing that
	// finds d/ empty tells at no extra request whether the organization has an old chain
	// (head2Marked).
	var first string
	org3 := archiver.DayRoot3(org)[:len(archiver.DayRoot3(org))-len("d/")]
	err = archiver.ListAfter(ctx, l.Store, org3, org3+"d", func(key string) error {
		if _, _, ok := archiver.ParseDayKey3(org, key); ok {
			first = key
			return archiver.ErrStopListing
		}
		if strings.HasPrefix(key, root) {
			return nil
		}
		old = archiver.KeyLayout(key) == archiver.Layout2
		return archiver.ErrStopListing
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return "", false, err
	}
	if first == "" {
		return "", old, nil
	}
	d, _, _ := archiver.ParseDayKey3(org, first)
	for y := year - 1; y >= d.Start().Year(); y-- {
		tip, err := lastManifestAfter(ctx, l.Store, org, archiver.YearPrefix3(org, y), "")
		if err != nil || tip != "" {
			return tip, false, err
		}
	}
	return "", false, nil
}

// ManifestAt reads org's manifest of revision rev of day, nil when there is none: at its
// layout-3 key and, for a day before since (or in a store without a marker), at its
// layout-2 day index. One read (two for an old day in a mixed store).
func (l Ledger) ManifestAt(ctx context.Context, org string, day archiver.Day, rev int) (*archiver.StoredManifest, error) {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return nil, err
	}
	inNew, inOld := lookIn(sl, day)
	var keys []string
	if inNew {
		keys = append(keys, archiver.DayKey3(org, day, rev))
	}
	if inOld {
		keys = append(keys, archiver.RevisionKey(org, day, rev))
	}
	for _, key := range keys {
		m, err := l.readManifest(ctx, key)
		if !errors.Is(err, archiver.ErrNotFound) {
			return m, err
		}
	}
	return nil, nil
}

// DayObjects calls fn with the key of every object of org's day in either layout (the
// day's prefix in layout 3, its folder in layout 2 where lookIn says so), in key order
// within each layout. It does not name the day's late copies or members objects, which
// DayManifests' manifests do (LateKey, ChatIndexRef.Inline.Members).
func (l Ledger) DayObjects(ctx context.Context, org string, day archiver.Day, fn func(key string) error) error {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return err
	}
	inNew, inOld := lookIn(sl, day)
	if inNew {
		if err := l.Store.List(ctx, archiver.DayPrefix3(org, day), func(key string) error {
			if _, _, ok := archiver.ParseDayKey3(org, key); !ok {
				return nil
			}
			return fn(key)
		}); err != nil {
			return err
		}
	}
	if inOld {
		return l.Store.List(ctx, archiver.DayPrefix(org, day), fn)
	}
	return nil
}

// DayManifests calls fn with every committed manifest of org's day, in either layout,
// oldest revision first (layout 2's before layout 3's): a listing per layout looked in and
// a read per manifest.
func (l Ledger) DayManifests(ctx context.Context, org string, day archiver.Day, fn func(*archiver.StoredManifest) error) error {
	type revKey struct {
		rev int
		key string
	}
	var keys []revKey
	if err := l.DayObjects(ctx, org, day, func(key string) error {
		name := strings.TrimPrefix(key, archiver.DayPrefix(org, day))
		if archiver.KeyLayout(key) == archiver.Layout3 {
			_, name, _ = archiver.ParseDayKey3(org, key)
		}
		if rev, ok := archiver.ParseRevisionName(name); ok {
			keys = append(keys, revKey{rev, key})
		}
		return nil
	}); err != nil {
		return err
	}
	// Layout 2's keys (orgs/<org>/days/…) sort after layout 3's (orgs/<org>/d/…) but their
	// revisions come first: order by revision.
	slices.SortStableFunc(keys, func(a, b revKey) int { return a.rev - b.rev })
	for _, k := range keys {
		m, err := l.readManifest(ctx, k.key)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ReadMembers reads and checks the members object a version 3 manifest's inline chat
// index names: under the manifest's organization's members/, of the size and SHA-256 the
// manifest says, of its organization. Nil, nil when m names none.
func (l Ledger) ReadMembers(ctx context.Context, m *archiver.StoredManifest) (*archiver.MembersObject, error) {
	if m.ChatIndex == nil || m.ChatIndex.Inline == nil {
		return nil, nil
	}
	ref := m.ChatIndex.Inline.Members
	if !strings.HasPrefix(ref.Key, archiver.MembersPrefix(m.Org)) {
		return nil, fmt.Errorf("%s: %w: its members object %s is not the organization's", m.Key, ErrUntrustedManifest, ref.Key)
	}
	b, err := l.readNamedObject(ctx, ref.Key, ref.VersionID, ref.Size, ref.SHA256, "members object", m.Key) // chatindex.go
	if err != nil {
		return nil, err
	}
	mo, err := archiver.DecodeMembers(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Key, err)
	}
	if mo.Org != m.Org {
		return nil, fmt.Errorf("%s: members of %s in manifest %s of %s: %w", ref.Key, mo.Org, m.Key, m.Org, ErrUntrustedManifest)
	}
	return mo, nil
}
