package archiver

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Locker is implemented by stores that enforce retention themselves (S3 with Object
// Lock). It is optional, so Store stays what every backend can do: Verify uses it to
// check each object's lock and that nothing was deleted or replaced, and Ledger.Hold to
// set legal holds.
type Locker interface {
	// Locking reports whether the store locks objects created with a RetainUntil.
	Locking() bool
	// Lock returns the lock on the current version of key.
	Lock(ctx context.Context, key string) (ObjectLock, error)
	// SetLegalHold places (on) or lifts a legal hold on the current version of key.
	SetLegalHold(ctx context.Context, key string, on bool) error
	// Versions calls fn with every version and delete marker of the keys that start with
	// prefix, in key order, until fn returns an error, which Versions returns.
	Versions(ctx context.Context, prefix string, fn func(ObjectVersion) error) error
}

// ObjectLock is how a store keeps an object.
type ObjectLock struct {
	// Mode is the retention mode, "COMPLIANCE" or "GOVERNANCE", or empty when unlocked.
	Mode string
	// RetainUntil is the end of the retention; zero when unlocked.
	RetainUntil time.Time
	// LegalHold is true while a legal hold is on.
	LegalHold bool
}

// ModeCompliance is the lock mode no one, not even the account's root, can shorten.
const ModeCompliance = "COMPLIANCE"

// ObjectVersion is one version, or delete marker, of a key.
type ObjectVersion struct {
	Key          string
	VersionID    string
	DeleteMarker bool
}

// ErrNoLocking is returned (wrapped) by Hold when the store cannot lock objects.
var ErrNoLocking = errors.New("store does not lock objects (a folder, or a bucket without Object Lock)")

// RetentionOver reports whether a lock until until would keep nothing at now: it ends
// before now, or within a minute of it (the clocks of the host and the store may differ
// that much). An object created then is stored unlocked, since S3 refuses a lock date in
// the past: a day sealed after its retention ended (history backfilled, a catch-up after
// a long outage) otherwise failed at every run, for good. verify accepts such an object
// unlocked; one whose retention is not over must be locked.
func RetentionOver(until, now time.Time) bool { return !until.After(now.Add(time.Minute)) }

// StoreNow returns the time now on the clock of store, the one that enforces its locks,
// when store learns it from its answers (the S3 store, from their Date headers:
// ClockSkew), else on this host's. Whether a retention is over (RetentionOver) is judged
// on it: S3 refuses a lock date in the past by its own clock and keeps a lock until its
// own clock passes it, so a host whose clock runs ahead must not take a day still within
// its retention for one past it and store, or accept, its objects unlocked.
func StoreNow(store any) time.Time {
	now := time.Now()
	if c, ok := store.(interface{ ClockSkew() (time.Duration, bool) }); ok {
		if skew, seen := c.ClockSkew(); seen {
			return now.Add(skew)
		}
	}
	return now
}

// CheckLock reports key unless it is locked in COMPLIANCE mode until want (atLeast: until
// want or later, for objects shared by several retentions), or is unlocked with want
// over (RetentionOver).
func CheckLock(ctx context.Context, lk Locker, key string, want time.Time, atLeast bool, rep Findings) {
	lock, err := lk.Lock(ctx, key)
	JudgeLock(lk, key, lock, err, want, atLeast, rep)
}

// JudgeLock is CheckLock on a lock already read (lock, err: what lk.Lock gave), for a
// caller that looked at it first.
func JudgeLock(lk Locker, key string, lock ObjectLock, err error, want time.Time, atLeast bool, rep Findings) {
	switch {
	case err != nil:
		rep.Problemf("%s: lock: %v", key, err)
	case lock.Mode == "" && RetentionOver(want, StoreNow(lk)):
		// Stored after its retention ended, or its lock has since run out: nothing to keep.
	case lock.Mode != ModeCompliance:
		rep.Problemf("%s: lock mode %q, want %s", key, lock.Mode, ModeCompliance)
	case atLeast && lock.RetainUntil.Before(want):
		rep.Problemf("%s: retained until %s, want at least %s", key, lock.RetainUntil.Format(time.RFC3339), want.Format(time.RFC3339))
	case !atLeast && !lock.RetainUntil.Equal(want):
		rep.Problemf("%s: retained until %s, want %s", key, lock.RetainUntil.Format(time.RFC3339), want.Format(time.RFC3339))
	}
}

// CheckVersions reports delete markers and keys with more than one version below prefix:
// objects are created once, so either means someone deleted or replaced one (a locked
// version survives both, but the archive's current view no longer matches the manifests).
func CheckVersions(ctx context.Context, lk Locker, prefix string, rep Findings) error {
	var key string
	count := 0
	flush := func() {
		if count > 1 {
			rep.Problemf("%s: %d versions; objects are created once, so it was replaced or deleted", key, count)
		}
	}
	err := lk.Versions(ctx, prefix, func(v ObjectVersion) error {
		if v.Key != key {
			flush()
			key, count = v.Key, 0
		}
		count++
		if v.DeleteMarker {
			rep.Problemf("%s: delete marker %s: the object was deleted", v.Key, v.VersionID)
		}
		return nil
	})
	flush()
	if err != nil {
		return fmt.Errorf("verify: list versions %s: %w", prefix, err)
	}
	return nil
}
