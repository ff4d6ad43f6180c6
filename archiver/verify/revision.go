package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// verifyRevision checks that a revision after the first holds every record of the
// revision it follows, or records a supersession that says truly how many it drops: a
// shrinking revision that a forger put in the store, or whose supersession was edited
// away, is a problem.
func verifyRevision(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, m *archiver.StoredManifest, rep *Report) {
	if m.Revision <= 1 {
		if m.Supersedes != nil {
			rep.problem("%s: revision %d records a supersession of revision %d", m.Key, m.Revision, m.Supersedes.Revision)
		}
		return
	}
	prev, err := readRevision(ctx, l, org, day, m.Revision-1, m.Version >= archiver.ManifestVersion3)
	if err != nil {
		rep.problem("%s: revision %d it follows: %v", m.Key, m.Revision-1, err)
		return
	}
	var dropped int64
	switch {
	case prev.Data.Keyless():
		// A layout-3 day without records: nothing to drop, and no object to read.
	case m.Data.Keyless():
		dropped = prev.Data.Records
	default:
		dropped, err = l.DroppedRecords(ctx, prev, m)
	}
	if err != nil {
		rep.problem("%s: compare with revision %d: %v", m.Key, m.Revision-1, err)
		return
	}
	s := m.Supersedes
	switch {
	case s == nil && dropped > 0 && m.Version < 2 && prev.Version < 2:
		// Manifests before version 2 were written before revisions were checked: such a
		// loss is history the store cannot undo (the records are still in the earlier
		// revision), not a forgery. A version 1 revision following a version 2 one is
		// not history, and falls through to the problem below.
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: revision %d drops %d record(s) of revision %d (sealed before revisions were checked; the records are in revision %d)",
			m.Key, m.Revision, dropped, m.Revision-1, m.Revision-1))
	case s == nil && dropped > 0:
		rep.problem("%s: revision %d drops %d record(s) of revision %d without a recorded supersession",
			m.Key, m.Revision, dropped, m.Revision-1)
	case s == nil:
	case s.Revision != m.Revision-1:
		rep.problem("%s: revision %d's supersession names revision %d", m.Key, m.Revision, s.Revision)
	case s.Dropped != dropped:
		rep.problem("%s: revision %d drops %d record(s) of revision %d, its supersession says %d",
			m.Key, m.Revision, dropped, m.Revision-1, s.Dropped)
	case strings.TrimSpace(s.Reason) == "":
		rep.problem("%s: revision %d is a supersession without a reason", m.Key, m.Revision)
	}
}

// readRevision reads org's manifest of revision rev of day: its layout-3 day key first
// when the revision that follows it is version 3 (v3; a late revision of an old-layout
// day follows an old manifest), then its old day index.
func readRevision(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, rev int, v3 bool) (*archiver.StoredManifest, error) {
	if v3 {
		m, err := l.ReadManifest(ctx, archiver.DayKey3(org, day, rev))
		if !errors.Is(err, archiver.ErrNotFound) {
			return m, err
		}
	}
	return l.ReadManifest(ctx, archiver.RevisionKey(org, day, rev))
}
