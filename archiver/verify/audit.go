package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// errFound stops a listing at its first key.
var errFound = errors.New("found")

// verifyAudit runs opt.Audit. Without one, a store holding audit objects gets a warning
// that they were not verified: silence would read as a verified audit.
func verifyAudit(ctx context.Context, l ledger.Ledger, opt Options, rep *Report) error {
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

// auditReport is the archiver.AuditReport of one verification.
type auditReport struct {
	l   ledger.Ledger
	rep *Report
}

func (r auditReport) Problem(format string, args ...any) { r.rep.problem(format, args...) }
func (r auditReport) Warn(msg string)                    { r.rep.Warn(msg) }
func (r auditReport) Object(size int64)                  { r.rep.Read(1, size) }

// Rotated reports whether the store's rotation statements lead from key from to key to
// (archiver.AuditRotations): an audit chain changes key only along them.
func (r auditReport) Rotated(from, to string) bool {
	return r.rep.state != nil && ledger.Rotated(r.rep.state.rotations, from, to)
}

// RetiredAt returns the key of the statement that had retired key id at t
// (archiver.AuditRotations), "" when none had.
func (r auditReport) RetiredAt(id string, t time.Time) string {
	if r.rep.state == nil {
		return ""
	}
	if s := archiver.RetiredAt(r.rep.state.statements, id, t); s != nil {
		return s.Key()
	}
	return ""
}

func (r auditReport) Segment(org string, seq int64, sum string) {
	r.rep.state.auditSegment(org, seq, sum) // witness.go
}

func (r auditReport) CheckLock(ctx context.Context, key string, until time.Time) {
	if lk, ok := r.l.Store.(archiver.Locker); ok && lk.Locking() {
		checkLock(ctx, lk, key, until, false, r.rep) // locks.go
	}
}

func (r auditReport) CheckVersions(ctx context.Context, prefix string) error {
	if lk, ok := r.l.Store.(archiver.Locker); ok {
		return archiver.CheckVersions(ctx, lk, prefix, r.rep)
	}
	return nil
}
