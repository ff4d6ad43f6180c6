package archiver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
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
		s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
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

// statHook is a Source whose first Stat runs a hook after listing the partition: the
// partition then changes between the Sealer's Stat and its Scan.
type statHook struct {
	archiver.Source
	once func()
}

func (s *statHook) Stat(ctx context.Context, day archiver.Day) (archiver.Partition, error) {
	p, err := s.Source.Stat(ctx, day)
	if s.once != nil {
		s.once()
		s.once = nil
	}
	return p, err
}

// TestSealRefusesFileGoneBeforeScan removes an event file after the Sealer listed the
// partition and before it is read. The Source's own scan cannot see it (its listing
// starts without the file), so the Sealer compares the partition after reading with what
// it listed first: the run fails, naming the file, and commits nothing.
func TestSealRefusesFileGoneBeforeScan(t *testing.T) {
	logDir := t.TempDir()
	if err := os.CopyFS(logDir, os.DirFS(sampleLog)); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	gone := filepath.Join(logDir, "2026-11-22", "part-0002.jsonl.gz")
	src := &statHook{Source: f.src, once: func() {
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
	}}
	s := &archiver.Sealer{Source: src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	_, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err == nil || !strings.Contains(err.Error(), "2026-11-22/part-0002.jsonl.gz") {
		t.Fatalf("Seal = %v, want an error naming the file that went away", err)
	}
	var keys []string
	if err := f.store.List(context.Background(), "", func(k string) error { keys = append(keys, k); return nil }); err != nil || len(keys) != 0 {
		t.Fatalf("store holds %v (%v) after a refused seal", keys, err)
	}
	reliability.Record(t, "input", "event file removed between the partition's listing and its reading", reliability.CleanFailure,
		"the run fails naming it (the partition is listed again after reading); nothing committed")
}
