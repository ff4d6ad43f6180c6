package scheduler

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// realSetup is an event log with an empty, closed partition for every day of days (a
// producer that delivered each day), a store, and a scheduler sealing with the real Sealer
// for one organization archiving since the first of days.
func realSetup(t *testing.T, clk Clock, first archiver.Day, n int) (*Scheduler, *storetest.Counting, string) {
	t.Helper()
	return realSetupLayout(t, clk, first, n, new(int))
}

// realSetupLayout is realSetup whose sealers write the store layout *layout (0: the
// default) when they are made: a test switches layouts between ticks.
func realSetupLayout(t *testing.T, clk Clock, first archiver.Day, n int, layout *int) (*Scheduler, *storetest.Counting, string) {
	t.Helper()
	logDir := t.TempDir()
	for d, i := first, 0; i < n; d, i = d.Next(), i+1 {
		p := filepath.Join(logDir, d.String())
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "_CLOSED"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	store := storetest.NewCounting(fs)
	dir := `{"organizations":[{"id":"` + orgA + `","name":"A","archival":true,"archivalStart":"` + first.String() + `"}],"users":[],"bots":[],"chats":[]}`
	s := &Scheduler{
		NewSealer: func() Sealer {
			return &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
				Now: clk.Now, Grace: time.Hour, Workers: 1, SortMemory: 8 << 20, TempDir: t.TempDir(),
				Logger: slog.New(slog.DiscardHandler), Layout: *layout}}
		},
		Ledger:    ledger.Ledger{Store: store},
		Directory: func(context.Context) ([]byte, error) { return []byte(dir), nil },
		Clock:     clk,
		Retries:   -1,
		Logger:    slog.New(slog.DiscardHandler),
	}
	return s, store, logDir
}

// TestCatchUpLooksUpEachOrgOnce: a tick over an organization with many sealed days makes
// a constant number of store requests for it (its days are found in one listing), not
// two per day since its archivalStart (a Latest per day: a listing and a read), which
// on S3 made every tick of a ten-year archive 7,300 requests per organization.
func TestCatchUpLooksUpEachOrgOnce(t *testing.T) {
	const days = 60
	first := day("2026-08-01")
	clk := NewFakeClock(first.Start().AddDate(0, 0, days).Add(30 * time.Minute))
	s, store, _ := realSetup(t, clk, first, days)
	ctx := context.Background()
	if rep := s.Tick(ctx); len(rep.Sealed) != days || rep.Err != nil || len(rep.Failed)+len(rep.Pending) != 0 {
		t.Fatalf("first tick: %d sealed, err %v, failed %q, pending %q", len(rep.Sealed), rep.Err, rep.Failed, rep.Pending)
	}
	store.Reset()
	if rep := s.Tick(ctx); len(rep.Sealed) != 0 || rep.Err != nil {
		t.Fatalf("second tick: %+v", rep)
	}
	n := store.Reset()
	if total := n.Requests(); total > 2 {
		t.Fatalf("a tick over one organization with %d sealed days made %d store requests (%v), want at most 2", days, total, n)
	}
	reliability.Record(t, "operations", "scheduler tick over an organization with many sealed days", reliability.Kept,
		"one listing of the organization's days per tick, whatever its age, instead of a lookup per day since archivalStart")
}

// TestCatchUpRetriesGapsBeforeHead: days seal out of order when one cannot be sealed yet
// (its partition is missing, or its seal failed) while later days can, so an
// organization's head (its last sealed day) may have unsealed days before it. Starting
// from the head must not forget them: the next tick seals them once they can be.
func TestCatchUpRetriesGapsBeforeHead(t *testing.T) {
	const days = 10
	first := day("2026-11-01")
	missing, broken := first.Next().Next(), first.Next().Next().Next().Next()
	clk := NewFakeClock(first.Start().AddDate(0, 0, days).Add(30 * time.Minute))
	s, _, logDir := realSetup(t, clk, first, days)
	if err := os.Rename(filepath.Join(logDir, missing.String()), filepath.Join(t.TempDir(), "late")); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(logDir, broken.String(), "junk.txt")
	if err := os.WriteFile(junk, []byte("not events"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep := s.Tick(ctx)
	if len(rep.Sealed) != days-2 || !slices.Equal(rep.Pending, []string{missing.String()}) || !slices.Equal(rep.Failed, []string{broken.String() + " "}) {
		t.Fatalf("first tick: %+v", rep)
	}
	// The producer delivers the missing day and the side file is removed.
	if err := os.Mkdir(filepath.Join(logDir, missing.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, missing.String(), "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	rep = s.Tick(ctx)
	if want := []string{missing.String() + " " + orgA, broken.String() + " " + orgA}; !slices.Equal(rep.Sealed, want) || len(rep.Pending)+len(rep.Failed) != 0 {
		t.Fatalf("second tick: %+v, want sealed %q", rep, want)
	}
	reliability.Record(t, "input", "a day before the organization's last sealed day is unsealed (partition late, seal failed)", reliability.Recovered,
		"catch-up takes the days after the head and every earlier unsealed day from the same listing: the gap is sealed at the next tick that can")
}

// TestPendingRetryWritesNothing: a tick whose only day due is not closed yet (what every
// retryInterval tick meets until the producer closes it), or that has nothing due at all
// (an hourly `chatvault run`), takes no lease: the lease is a chain of create-only
// objects, and two links per tick every five minutes would grow it for nothing. Once the
// day is closed, the tick takes the lease and seals it.
func TestPendingRetryWritesNothing(t *testing.T) {
	const days = 5
	first := day("2026-11-18")
	clk := NewFakeClock(first.Start().AddDate(0, 0, days).Add(30 * time.Minute)) // 00:30, within the grace
	// Layout 2, explicitly: its counts are the old layout's (a new store in the default
	// layout 3 that catches up days before its marker's since lists both layouts: 2).
	layout := archiver.Layout2
	s, store, logDir := realSetupLayout(t, clk, first, days, &layout)
	s.Lease = &Lease{Store: store, Holder: "a", TTL: time.Hour, Clock: clk}
	last := first.Start().AddDate(0, 0, days-1).Format(time.DateOnly)
	closed := filepath.Join(logDir, last, "_CLOSED")
	if err := os.Remove(closed); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if rep := s.Tick(ctx); len(rep.Sealed) != days-1 || !slices.Equal(rep.Pending, []string{last}) {
		t.Fatalf("first tick: %+v", rep)
	}
	store.Reset()
	clk.Add(5 * time.Minute)
	if rep := s.Tick(ctx); len(rep.Sealed) != 0 || !slices.Equal(rep.Pending, []string{last}) || rep.Err != nil || rep.Skipped != "" {
		t.Fatalf("retry while not closed: %+v", rep)
	}
	if n := store.Reset(); n["Create"] != 0 || n.Requests() > 1 {
		t.Fatalf("a retry that found the day still open made %v store requests, want one listing and no object", n)
	}
	if err := os.WriteFile(closed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute)
	if rep := s.Tick(ctx); !slices.Equal(rep.Sealed, []string{last + " " + orgA}) || len(rep.Pending) != 0 {
		t.Fatalf("tick after _CLOSED: %+v", rep)
	}
	store.Reset()
	clk.Add(time.Hour)
	if rep := s.Tick(ctx); len(rep.Sealed)+len(rep.Pending) != 0 || rep.Err != nil {
		t.Fatalf("tick with nothing due: %+v", rep)
	}
	if n := store.Reset(); n["Create"] != 0 {
		t.Fatalf("a tick with nothing due made %v store requests, want no object written", n)
	}
	reliability.Record(t, "operations", "scheduler retries while a day is not closed; hourly `run` with nothing due", reliability.Kept,
		"such a tick only lists the organization's days and the partition: it takes no store lease, so the create-only lease chain does not grow every retry")
}
