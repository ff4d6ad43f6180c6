package archiver

import (
	"context"
	"crypto/ed25519"
	"time"
)

// AuditVerifier verifies the access audit's segment chains for package verify
// (verify.Options.Audit), which does not know the audit's layout.
type AuditVerifier interface {
	// VerifyAudit walks every organization's audit chain (org's alone when org is set)
	// and tells rep what it checked and found. It returns an error only when it cannot
	// read the store.
	VerifyAudit(ctx context.Context, s Store, org string, trusted []ed25519.PublicKey, rep AuditReport) error
}

// AuditReport is how an AuditVerifier reports to the verification.
type AuditReport interface {
	// Problem records an integrity failure; Warn something worth a look.
	Problem(format string, args ...any)
	Warn(msg string)
	// Object counts one object read whole, of size bytes.
	Object(size int64)
	// Segment notes one segment of org's chain, walked in order, with its stored hex
	// SHA-256 ("" when unreadable): the witness's audit heads are checked against these.
	Segment(org string, seq int64, sum string)
	// CheckLock records a problem unless, on a store that locks, key is locked in
	// compliance mode until exactly until.
	CheckLock(ctx context.Context, key string, until time.Time)
	// CheckVersions records a problem for each key under prefix that a versioned store
	// holds more than one version of, or a delete marker for.
	CheckVersions(ctx context.Context, prefix string) error
}

// AuditHeadReader is an AuditVerifier that can also read one witnessed audit head by its
// key. A verification that does not walk the audit chains (of days, incremental) still
// compares a witness's audit heads through it, as it reads the witness's manifest heads
// by key: otherwise deleting an organization's newest segments would pass the nightly
// verification that was given the witness to catch exactly that.
type AuditHeadReader interface {
	// AuditHeadSum returns the hex SHA-256, as stored, of the segment h names (its
	// organization, day and seq); an error wrapping ErrNotFound when there is none.
	AuditHeadSum(ctx context.Context, s Store, h WitnessAuditHead) (string, error)
}

// AuditRotations is an AuditReport that knows the store's key rotation statements: an
// audit chain, like a manifest chain, may change its signing key only where a statement
// leads from the old key to the new one.
type AuditRotations interface {
	// Rotated reports whether statements lead from key id from to key id to.
	Rotated(from, to string) bool
	// RetiredAt returns the key of the statement that had retired key id at t (see
	// RetiredAt), "" when none had.
	RetiredAt(id string, t time.Time) string
}
