package verify

import (
	"context"

	"github.com/chatvault/chatvault/archiver"
)

// verifyLocks checks that a manifest's objects are locked as the archiver asked: in
// COMPLIANCE mode until the day's end plus the organization's retention. The quarantine
// object is shared by the day's organizations and kept for the longest of their
// retentions, so it must only be kept at least that long.
func verifyLocks(ctx context.Context, lk archiver.Locker, day archiver.Day, m *archiver.StoredManifest, idx string, rep *Report) {
	if m.RetentionDays <= 0 {
		return
	}
	want := day.End().AddDate(0, 0, m.RetentionDays)
	check := func(key string, atLeast bool) { archiver.CheckLock(ctx, lk, key, want, atLeast, rep) }
	check(m.Key, false)
	if idx != m.Key {
		check(idx, false)
	}
	if m.Data.Key != "" {
		check(m.Data.Key, false)
	}
	if m.Late {
		check(archiver.LateKey(m.Org, m.Seq), false)
	}
	if m.Quarantined != nil {
		check(m.Quarantined.Key, false)
	}
	switch x := m.ChatIndex; {
	case x == nil:
	case x.Inline != nil:
		// Shared by the days of its year that name it: kept at least as long as each,
		// checked once after the walk (membersChecked.locks, layout3.go).
	default:
		check(x.Key, false)
	}
	if m.Quarantine != nil {
		check(m.Quarantine.Key, true)
	}
}
