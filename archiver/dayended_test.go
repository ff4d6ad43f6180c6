package archiver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSealRefusesDayNotEnded seals the sample day, whose partition has _CLOSED, at moments
// before its end: a day that has not ended cannot be complete, whatever the marker says,
// so the Sealer refuses it (the scheduler and the CLI both go through it) and commits
// nothing. At its very end it seals.
func TestSealRefusesDayNotEnded(t *testing.T) {
	f := newFixture(t, sampleLog)
	end := sampleDay.End()
	for _, now := range []time.Time{sampleDay.Start().Add(-48 * time.Hour), sampleDay.Start(), end.Add(-time.Millisecond)} {
		s := &archiver.Sealer{Source: f.src, Store: f.store, Options: archiver.Options{
			Now: func() time.Time { return now }, TempDir: t.TempDir()}}
		_, err := s.Seal(context.Background(), sampleDay, f.directory, "")
		if !errors.Is(err, archiver.ErrDayNotEnded) {
			t.Fatalf("Seal at %s = %v, want ErrDayNotEnded", now, err)
		}
		// The scheduler keeps a day it cannot seal yet pending, not failed.
		if !errors.Is(err, archiver.ErrNotClosed) {
			t.Errorf("Seal at %s = %v, want it to match ErrNotClosed too", now, err)
		}
		var keys []string
		err = f.store.List(context.Background(), "", func(k string) error { keys = append(keys, k); return nil })
		if err != nil || len(keys) != 0 {
			t.Fatalf("store holds %v (%v) after a refused seal", keys, err)
		}
	}
	f.seal(t, sampleDay, archiver.Options{Now: func() time.Time { return end }})
	reliability.Record(t, "input", "a day that has not ended, its partition marked _CLOSED (Sealer: scheduler and CLI)", reliability.Refused,
		"Seal fails with ErrDayNotEnded before reading; nothing committed; the scheduler keeps the day pending")
}
