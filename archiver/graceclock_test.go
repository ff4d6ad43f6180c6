package archiver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// touchTree sets the modification time of root and of everything in it to at, as a
// producer whose clock read at when it last wrote there would leave them.
func touchTree(t *testing.T, root string, at time.Time) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(root, e.Name()), at, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(root, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestGraceOnTheEventLogsClock: a partition without _CLOSED counts as closed once
// schedule.grace has passed after the day's end on the event log's clock too, as its
// files show it (their modification times, the producer's writes), not on this host's
// alone. A host whose clock ran hours ahead (a folder store, so no S3 clock to compare
// with) sealed the day while the producer was still writing its late events: the file
// written after the seal was never picked up by the catch-up, a day sealed without its
// last records. The day now waits until the event log shows a write at or after the
// grace's end: a late file in the partition itself, or the next day's partition.
func TestGraceOnTheEventLogsClock(t *testing.T) {
	const grace = time.Hour
	end := sampleDay.End()
	hostAhead := end.Add(3 * time.Hour) // the host's clock; the producer's reads end+20m
	for _, tc := range []struct {
		name    string
		host    time.Time
		partAt  time.Time // the newest write in the day's partition
		nextAt  time.Time // the newest write in the next day's (zero: none yet)
		pending bool
	}{
		{"host ahead, producer still within the grace, no next partition", hostAhead, end.Add(20 * time.Minute), time.Time{}, true},
		{"host ahead, producer within the grace in the next partition too", hostAhead, end.Add(-time.Minute), end.Add(20 * time.Minute), true},
		{"producer's next partition written after the grace ended", hostAhead, end.Add(-time.Minute), end.Add(grace), false},
		{"producer's late file in the partition written after the grace ended", hostAhead, end.Add(grace + time.Minute), time.Time{}, false},
		{"host within the grace, event log past it", end.Add(grace - time.Millisecond), end.Add(5 * time.Hour), end.Add(5 * time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := copyLog(t)
			part := filepath.Join(logDir, sampleDay.String())
			if err := os.Remove(filepath.Join(part, "_CLOSED")); err != nil {
				t.Fatal(err)
			}
			touchTree(t, part, tc.partAt)
			if !tc.nextAt.IsZero() {
				next := filepath.Join(logDir, sampleDay.Next().String())
				if err := os.Mkdir(next, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(next, "part-0001.jsonl"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				touchTree(t, next, tc.nextAt)
			}
			f := newFixture(t, logDir)
			s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
				Grace: grace, Now: func() time.Time { return tc.host }, TempDir: t.TempDir()}}
			err := s.Ready(context.Background(), sampleDay)
			if got := errors.Is(err, archiver.ErrNotClosed); got != tc.pending {
				t.Fatalf("Ready = %v; want pending (ErrNotClosed): %v", err, tc.pending)
			}
			if tc.pending {
				if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); !errors.Is(err, archiver.ErrNotClosed) {
					t.Fatalf("Seal = %v, want ErrNotClosed", err)
				}
				var keys []string
				if err := f.store.List(context.Background(), "", func(k string) error { keys = append(keys, k); return nil }); err != nil || len(keys) != 0 {
					t.Fatalf("store holds %v (%v) after a seal refused as not closed", keys, err)
				}
			}
		})
	}
	reliability.Record(t, "input", "a partition without _CLOSED on a host whose clock runs hours ahead of the event log's (folder store: no S3 clock to compare)", reliability.Kept,
		"the grace is counted on the event log's clock too (the newest modification time of the partition's files and of the next day's): the day stays pending until the producer writes past the grace's end or the marker; before, the host's clock alone sealed the day while the producer was still writing its late events")
}
