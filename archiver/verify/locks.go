package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// verifyLocks checks that a manifest's objects are locked as the archiver asked: in
// COMPLIANCE mode until the day's end plus the organization's retention. The quarantine
// object is shared by the day's organizations and kept for the longest of their
// retentions, so it must only be kept at least that long.
//
// It returns the locks it read by key, for verifyLegalHolds to look at the same reads.
func verifyLocks(ctx context.Context, lk archiver.Locker, day archiver.Day, m *archiver.StoredManifest, idx string, rep *Report) map[string]archiver.ObjectLock {
	if m.RetentionDays <= 0 {
		return nil
	}
	want := day.End().AddDate(0, 0, m.RetentionDays)
	read := map[string]archiver.ObjectLock{}
	check := func(key string, atLeast bool) {
		if lock, ok := checkLock(ctx, lk, key, want, atLeast, rep); ok {
			read[key] = lock
		}
	}
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
	return read
}

// checkLock is archiver.CheckLock, except that under Options.ExtendLocks (verify
// --extend-locks) an object with no lock, or one ending before want, is locked until want
// (COMPLIANCE, as the seal locked it) and counted for one warning instead of reported. A
// copy of the archive to another bucket (aws s3 sync, CopyObject, a restore) carries no
// lock: before, only members objects kept too short were lengthened, and every other
// object of a copy failed verify until it was locked again by hand. A lock ending after
// want stays a problem: COMPLIANCE cannot be shortened, and nothing here lengthens what
// is already longer than asked.
//
// It returns the lock read, and whether it was read (one lengthened is not returned: its
// retention is no longer what was read).
func checkLock(ctx context.Context, lk archiver.Locker, key string, want time.Time, atLeast bool, rep *Report) (archiver.ObjectLock, bool) {
	lock, err := lk.Lock(ctx, key) // one read, whether it is then judged or lengthened
	re, extender := lk.(archiver.RetentionExtender)
	short := err == nil && (lock.Mode == "" || lock.Mode == archiver.ModeCompliance) && lock.RetainUntil.Before(want)
	if extender && rep.state != nil && rep.state.opt.ExtendLocks && short && !archiver.RetentionOver(want, archiver.StoreNow(lk)) {
		if err := re.ExtendRetention(ctx, key, want); err != nil {
			rep.problem("%s: locking it until %s: %v", key, want.Format(time.RFC3339), err)
			return archiver.ObjectLock{}, false
		}
		rep.placed.add(key, want.Format(time.RFC3339))
		return archiver.ObjectLock{}, false
	}
	archiver.JudgeLock(lk, key, lock, err, want, atLeast, rep)
	return lock, err == nil
}

// placedWarning turns the count of locks checkLock placed or lengthened (a copy of a
// large archive has one per object) into the one warning Run adds.
func (r *Report) placedWarning() {
	if r.placed.n == 0 {
		return
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf("%d object(s) had no lock or one ending too soon (the first %s): each lock placed until its day's end "+
		"plus the retention, as the seal locks it (%s for that one), in COMPLIANCE mode", r.placed.n, r.placed.key, r.placed.detail))
	r.placed = counted{}
}

// heldDays maps the holds in force after events to org → day → matters.
func heldDays(events []archiver.HoldEvent) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, h := range archiver.ActiveHolds(events) {
		if out[h.Org] == nil {
			out[h.Org] = map[string][]string{}
		}
		for _, d := range h.Days {
			out[h.Org][d.String()] = append(out[h.Org][d.String()], h.Matter)
		}
	}
	return out
}

// verifyLegalHolds checks that the objects of m, a manifest of a day org's recorded hold
// events hold, carry the legal hold those events placed: the manifest, its day index and
// its export. The events are evidence, kept in the store; the hold on the objects is what
// keeps them past their retention, and a copy of the archive to another bucket (aws s3
// sync, CopyObject) or a restore from a backup carries none: before, verify said nothing
// of it, and hold --list showed the holds in force on objects that were not held. The
// locks verifyLocks read (read) are looked at again, not read twice: one HEAD per object
// of a held day that verifyLocks did not read.
func verifyLegalHolds(ctx context.Context, lk archiver.Locker, org string, day archiver.Day, m *archiver.StoredManifest, idx string, read map[string]archiver.ObjectLock, rep *Report) {
	if rep.state == nil {
		return
	}
	matters := rep.state.held[org][day.String()]
	if len(matters) == 0 {
		return
	}
	keys := []string{m.Key}
	if idx != m.Key {
		keys = append(keys, idx)
	}
	if m.Data.Key != "" && !m.Data.Keyless() {
		keys = append(keys, m.Data.Key)
	}
	for _, key := range keys {
		lock, ok := read[key]
		var err error
		if !ok {
			lock, err = lk.Lock(ctx, key)
		}
		switch {
		case err != nil:
			rep.problem("%s: legal hold: %v", key, err)
		case !lock.LegalHold:
			rep.problem("%s: no legal hold, though the matter(s) %s of %s hold %s (hold events under holds/): a copy or a restore of the archive carries no legal holds; "+
				"place them again with chatvault hold --org %s --matter NAME --date %s --on", key, strings.Join(matters, ", "), org, day, org, day)
		}
	}
}
