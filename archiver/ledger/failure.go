package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// FailureRecorder records a failed attempt of an organization's day: a Ledger, or what a
// caller puts in front of one.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, org string, day archiver.Day, at time.Time, cause error) error
}

// RecordFailures records cause as the failed attempt of day of each of orgs (RecordFailure),
// calling failed with each record that could not be written. It stops at the first one the
// store did not take for the store's sake (archiver.StoreDown): each of the others would
// wait out its retries only to fail too, one after another (25s to two minutes each on
// S3, for thousands of organizations). It returns how many it did not try.
func RecordFailures(ctx context.Context, r FailureRecorder, orgs []string, day archiver.Day, at time.Time, cause error, failed func(org string, err error)) (skipped int) {
	for i, o := range orgs {
		err := r.RecordFailure(ctx, o, day, at, cause)
		if err == nil {
			continue
		}
		failed(o, err)
		if archiver.StoreDown(err) || ctx.Err() != nil {
			return len(orgs) - i - 1
		}
	}
	return 0
}

// RecordFailure leaves a trace of an attempt to seal org's day that failed as a whole
// (unreadable input, a store outage), so that status and the API show the day as failed
// rather than pending until a later run seals it. Failures of one organization's commit
// are recorded by Seal itself.
func (l Ledger) RecordFailure(ctx context.Context, org string, day archiver.Day, at time.Time, cause error) error {
	at = at.UTC()
	msg := []byte(at.Format(time.RFC3339) + " " + cause.Error() + "\n")
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return fmt.Errorf("record failed attempt: %w", err)
	}
	key := archiver.FailedKeyFor(sl, org, day, at.UnixMilli())
	if err := l.Store.Create(ctx, key, bytes.NewReader(msg), int64(len(msg)), sha256.Sum256(msg), archiver.CreateOptions{}); err != nil {
		return fmt.Errorf("record failed attempt %s: %w", key, err)
	}
	return nil
}
