package scheduler

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestJanitorAfterTheClockWentBack: the scheduler's janitor runs at most once a day per
// process, and remembered the day of its last run. serve's clock ran a year ahead for a
// tick, then was stepped back: the remembered day lay a year ahead, and the janitor did
// not run again in that process until the clock reached it (a year of lease links and
// watermarks kept). It now runs on a day other than its last one's, before it as well.
func TestJanitorAfterTheClockWentBack(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	today := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := NewFakeClock(today.AddDate(1, 0, 0)) // a year ahead
	sch := &Scheduler{Watermarks: s, Clock: clk, Logger: slog.New(slog.DiscardHandler)}
	sch.janitor(t.Context())
	clk.Set(today) // stepped back
	old := archiver.DayOf(today.AddDate(0, 0, -(watermarkKeep + 10)))
	b := []byte(`{"version":1,"orgs":{}}`)
	key := fmt.Sprintf("%s%s/%013d-%x.json.gz", watermarkPrefix, old, old.Start().UnixMilli(), 1)
	if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sch.janitor(t.Context())
	if keys := listAllKeys(t, s, watermarkPrefix); len(keys) != 0 {
		t.Fatalf("watermarks after the janitor, the clock stepped back a year: %q, want none (older than %d days)", keys, watermarkKeep)
	}
	reliability.Record(t, "fault", "serve's clock a year ahead for a scheduler tick, then stepped back", reliability.Recovered,
		"the janitor runs again on the next day it sees (before its last run's day too): old lease links and watermarks are pruned; before, it did not run in that process for a year")
}

// TestWatermarkFromAClockAhead: a watermark written by a process whose clock ran a year
// ahead was the newest every process read, for a year, however old what it said grew,
// and no process wrote a newer one (its own "last written" was a year ahead too). A
// watermark dated after tomorrow is now passed over: the newest of the others is read.
func TestWatermarkFromAClockAhead(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	today := archiver.DayOf(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	put := func(d archiver.Day, n int) string {
		b := []byte(`{"version":1,"orgs":{}}`)
		key := fmt.Sprintf("%s%s/%013d-%x.json.gz", watermarkPrefix, d, d.Start().UnixMilli(), n)
		if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	genuine := put(archiver.DayOf(today.Start().AddDate(0, 0, -3)), 1)
	put(archiver.DayOf(today.Start().AddDate(1, 0, 0)), 2) // a year ahead
	tomorrow := put(today.Next(), 3)                       // a clock a little ahead across midnight: still read
	key, day, err := newestWatermark(t.Context(), s, today)
	if err != nil || key != tomorrow || day != today.Next() {
		t.Fatalf("newest watermark %q (%s), %v; want %q", key, day, err, tomorrow)
	}
	if err := s.Delete(t.Context(), tomorrow); err != nil {
		t.Fatal(err)
	}
	if key, _, err := newestWatermark(t.Context(), s, today); err != nil || key != genuine {
		t.Fatalf("newest watermark %q, %v; want %q, not the one a year ahead", key, err, genuine)
	}
	reliability.Record(t, "fault", "a scheduler watermark written by a serve whose clock ran a year ahead", reliability.Recovered,
		"passed over by every process (dated after tomorrow): the newest of the others is read and new ones are written; before, it was every process's newest for a year while what it said grew older, and none was written")
}
