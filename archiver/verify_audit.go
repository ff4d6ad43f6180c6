package archiver

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
)

// AuditVerifier verifies the access audit's segment chains for Verify. The audit's layout
// is archiver/audit's, which the root does not import: cmd/chatvault sets
// VerifyOptions.Audit to audit.Verifier.
type AuditVerifier interface {
	// VerifyAudit walks every organization's audit chain (org's alone when org is set)
	// and tells rep what it checked and found. It returns an error only when it cannot
	// read the store.
	VerifyAudit(ctx context.Context, s Store, org string, trusted []ed25519.PublicKey, rep AuditReport) error
}

// AuditReport is how an AuditVerifier reports to Verify.
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

// auditReport is the AuditReport of one Verify.
type auditReport struct {
	l   Ledger
	rep *VerifyReport
}

func (r auditReport) Problem(format string, args ...any) { r.rep.problem(format, args...) }
func (r auditReport) Warn(msg string)                    { r.rep.Warnings = append(r.rep.Warnings, msg) }

func (r auditReport) Object(size int64) {
	r.rep.Objects++
	r.rep.Bytes += size
}

func (r auditReport) Segment(org string, seq int64, sum string) {
	r.rep.state.auditSegment(org, seq, sum) // witness_audit.go
}

func (r auditReport) CheckLock(ctx context.Context, key string, until time.Time) {
	if lk, ok := r.l.Store.(Locker); ok && lk.Locking() {
		verifyLock(ctx, lk, key, until, false, r.rep)
	}
}

func (r auditReport) CheckVersions(ctx context.Context, prefix string) error {
	if lk, ok := r.l.Store.(Locker); ok {
		return r.l.verifyVersions(ctx, lk, prefix, r.rep)
	}
	return nil
}

// errFound stops a listing at its first key.
var errFound = errors.New("found")

// verifyAudit runs opt.Audit. Without one, a store holding audit objects gets a warning
// that they were not verified: silence would read as a verified audit.
func (l Ledger) verifyAudit(ctx context.Context, opt VerifyOptions, rep *VerifyReport) error {
	if opt.Audit != nil {
		return opt.Audit.VerifyAudit(ctx, l.Store, opt.Org, opt.trustedKeys(), auditReport{l, rep})
	}
	err := l.Store.List(ctx, "audit/", func(string) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		rep.Warnings = append(rep.Warnings, "the access audit was not verified (no audit verifier configured)")
	case err != nil:
		return fmt.Errorf("verify: list audit/: %w", err)
	}
	return nil
}
