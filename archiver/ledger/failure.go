package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

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
