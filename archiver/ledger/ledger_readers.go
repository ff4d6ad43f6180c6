package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/archiver"
)

// Orgs calls fn, in order, with every organization that has objects in the store: the
// folders of orgs/ (ListFolders), not the objects in them. fn may return ErrStopListing.
func (l Ledger) Orgs(ctx context.Context, fn func(org string) error) error {
	if err := archiver.ListFolders(ctx, l.Store, archiver.OrgsPrefix, fn); err != nil {
		return fmt.Errorf("list the organizations of the store: %w", err)
	}
	return nil
}

// DayHoldings returns what org's day holds, in both layouts: the layout-3 day prefix
// (d/<yyyy>/<mm>/<dd>.) and, for a day before the store's layout-3 marker's since (or on
// a store without one), the old day folder, as DayObjects lists them; one listing of each,
// and one read per revision (not DayManifests, which would list the day again). Beside the listed keys it names what the day's manifests point to outside
// the day: an old manifest's chain entry (manifests/<seq>.json), a late manifest's copy
// (late/<seq>.json), and, shared with the organization's other days, the members object
// a version 3 manifest's inline chat index names.
func (l Ledger) DayHoldings(ctx context.Context, org string, day archiver.Day) (archiver.DayHoldings, error) {
	do := archiver.DayHoldings{Day: day}
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return do, err
	}
	var prefixes []string
	inNew, inOld := lookIn(sl, day)
	if inNew {
		prefixes = append(prefixes, archiver.DayPrefix3(org, day))
	}
	if inOld {
		prefixes = append(prefixes, archiver.DayPrefix(org, day))
	}
	var revisions []string
	for _, p := range prefixes {
		if err := l.Store.List(ctx, p, func(key string) error {
			do.Keys = append(do.Keys, key)
			if _, ok := archiver.ParseRevisionName(key[len(p):]); ok {
				revisions = append(revisions, key)
			}
			return nil
		}); err != nil {
			return do, fmt.Errorf("list %s of %s: %w", day, org, err)
		}
	}
	shared := map[string]bool{}
	for _, key := range revisions {
		m, err := l.readManifest(ctx, key)
		if err != nil {
			return do, err
		}
		do.Manifests = append(do.Manifests, m)
		switch archiver.KeyLayout(key) {
		case archiver.Layout2:
			do.Keys = append(do.Keys, archiver.ChainKey(org, m.Seq))
		case archiver.Layout3:
			if m.Late {
				do.Keys = append(do.Keys, archiver.LateKey(org, m.Seq))
			}
			if ci := m.ChatIndex; ci != nil && ci.Inline != nil && ci.Inline.Members.Key != "" && !shared[ci.Inline.Members.Key] {
				shared[ci.Inline.Members.Key] = true
				do.Shared = append(do.Shared, ci.Inline.Members.Key)
			}
		}
	}
	// Old revisions before new ones: the old folder sorts after d/ ("days/" > "d/").
	slices.SortStableFunc(do.Manifests, func(a, b *archiver.StoredManifest) int { return cmp.Compare(a.Revision, b.Revision) })
	return do, nil
}
