package archiver

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// The day index (orgs/<org>/days/<date>/r<rev>.json) is what says which revision of a day
// is the latest, for the API and for the next run; but it is a copy of a chain manifest,
// and the chain is the record. When an index is missing, a run that trusted the index
// alone would take the day for unsealed (and commit another revision 1) or take an older
// revision for the latest, and so commit a revision that drops records of the one it
// really follows without the superset check. Walking the whole chain on every run would
// cost a read per sealed day, so the run looks for the traces a missing index leaves: an
// export of the day that no index names (a crash between an export and its manifest leaves
// one too, harmlessly), or an accounting object of the day naming a later revision of the
// organization. Only then does it walk the chain, restore the indexes it finds missing,
// and compare with the latest revision the chain holds.

// dayAccounting is, per organization, the highest revision of the day the day's accounting
// objects name; read once per run.
type dayAccounting struct {
	once sync.Once
	revs map[string]int
	err  error
}

// latestRevision returns the day's latest revision of org, from the chain when the day
// index lost one (see above), restoring the missing indexes. It lists the day's folder
// once, which Ledger.Latest would do anyway: the check adds no request to a day whose
// folder holds no export an index does not name.
func (w *writer) latestRevision(ctx context.Context, org string, head *StoredManifest) (*StoredManifest, error) {
	l := w.s.Chain
	var indexes, exports []string
	if err := w.s.Store.List(ctx, DayPrefix(org, w.day), func(key string) error {
		name := strings.TrimPrefix(key, DayPrefix(org, w.day))
		switch {
		case strings.HasPrefix(name, "r") && strings.HasSuffix(name, ".json"):
			indexes = append(indexes, key) // in order: revisions are zero-padded
		case strings.HasPrefix(name, "events-"):
			exports = append(exports, key)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list day %s: %w", w.day, err)
	}
	var latest *StoredManifest
	if n := len(indexes); n > 0 {
		m, err := l.ReadManifest(ctx, indexes[n-1])
		if err != nil {
			return nil, err
		}
		latest = m
	}
	if head == nil {
		return latest, nil
	}
	lost, err := w.indexLost(ctx, org, latest, indexes, exports)
	if err != nil || !lost {
		return latest, err
	}
	var found []*StoredManifest
	for seq := head.Seq; seq >= 1; seq-- {
		key := ChainKey(org, seq)
		m, err := l.ReadManifest(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("the day's index lacks a revision, and chain manifest %s cannot be read to find it: %w (run chatvault verify)", key, err)
		}
		if m.Date == w.day.String() {
			found = append(found, m)
		}
	}
	for _, m := range found {
		var keep CreateOptions
		if m.RetentionDays > 0 {
			keep.RetainUntil = w.day.End().AddDate(0, 0, m.RetentionDays)
		}
		// Create-only: an index that exists is left as is, and one that differs from the
		// chain is a conflict, which fails the organization's day.
		if err := w.s.Store.Create(ctx, RevisionKey(org, w.day, m.Revision), bytes.NewReader(m.Bytes), int64(len(m.Bytes)), m.SHA256, keep); err != nil {
			return nil, fmt.Errorf("restore day index of %s: %w", m.Key, err)
		}
		if latest == nil || m.Revision > latest.Revision {
			latest = m
		}
	}
	if len(found) > 0 {
		w.log.Warn("day index restored from the chain", "org", org, "revision", latest.Revision)
	}
	return latest, nil
}

// indexLost reports whether the day's folder (its indexes and exports, as listed) or its
// accounting objects show a revision the day index does not (see above).
func (w *writer) indexLost(ctx context.Context, org string, latest *StoredManifest, indexes, exports []string) (bool, error) {
	l := w.s.Chain
	// Each revision has an export of its own (a revision is committed only when its records
	// differ), so only more exports than indexes can leave one unnamed; then the indexes
	// are read to find it.
	if len(exports) > len(indexes) {
		named := map[string]bool{}
		for _, key := range indexes {
			m, err := l.ReadManifest(ctx, key)
			if err != nil {
				return false, fmt.Errorf("read day index: %w", err)
			}
			named[m.Data.Key] = true
		}
		for _, key := range exports {
			if !named[key] {
				return true, nil
			}
		}
	}
	accounted, err := w.accountedRevision(ctx, org)
	if err != nil {
		return false, err
	}
	rev := 0
	if latest != nil {
		rev = latest.Revision
	}
	return accounted > rev, nil
}

// accountedRevision returns the highest revision of org's day that the day's accounting
// objects name (0: none), reading them once per run.
func (w *writer) accountedRevision(ctx context.Context, org string) (int, error) {
	l := w.s.Chain
	a := &w.accounted
	a.once.Do(func() {
		a.revs = map[string]int{}
		a.err = l.Accountings(ctx, w.day, func(acc *StoredAccounting) error {
			for _, m := range acc.Manifests {
				a.revs[m.Org] = max(a.revs[m.Org], m.Revision)
			}
			return nil
		})
	})
	if a.err != nil {
		return 0, fmt.Errorf("read the day's accounting: %w", a.err)
	}
	return a.revs[org], nil
}
