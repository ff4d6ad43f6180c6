package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"
)

// RecordFailure leaves a trace of an attempt to seal org's day that failed as a whole
// (unreadable input, a store outage), so that status and the API show the day as failed
// rather than pending until a later run seals it. Failures of one organization's commit
// are recorded by Seal itself.
func (l Ledger) RecordFailure(ctx context.Context, org string, day Day, at time.Time, cause error) error {
	at = at.UTC()
	msg := []byte(at.Format(time.RFC3339) + " " + cause.Error() + "\n")
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return fmt.Errorf("record failed attempt: %w", err)
	}
	key := failedKeyFor(sl, org, day, at.UnixMilli())
	if err := l.Store.Create(ctx, key, bytes.NewReader(msg), int64(len(msg)), sha256.Sum256(msg), CreateOptions{}); err != nil {
		return fmt.Errorf("record failed attempt %s: %w", key, err)
	}
	return nil
}

// SealTargets returns the ids of the organizations a seal of day with dir commits (as the
// seal's router picks them): those archiving on that day, of shard's when sharded, only
// only when it is set. A caller whose seal failed as a whole records the failure for each
// (RecordFailure), as the writer does for one organization whose commit failed.
func SealTargets(dir *Directory, day Day, only string, shard Shard) []string {
	var ids []string
	for _, o := range dir.Organizations {
		if !o.Archival || (o.ArchivalStart != "" && o.ArchivalStart > day.String()) || !safeID.MatchString(o.ID) {
			continue
		}
		if (only != "" && o.ID != only) || (shard.Sharded() && ShardOf(o.ID, shard.Count) != shard.Index) {
			continue
		}
		ids = append(ids, o.ID)
	}
	return ids
}
