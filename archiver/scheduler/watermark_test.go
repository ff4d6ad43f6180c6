package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// indexSealer seals a day by writing each organization's day index into store, as the
// stand-in manifests of sealedStore.
type indexSealer struct {
	store archiver.Store
	orgs  []string
	fail  map[string]bool // "org day": that organization's seal of the day fails
}

func (s indexSealer) Seal(ctx context.Context, d archiver.Day, _ []byte, only string) (*archiver.DayResult, error) {
	res := &archiver.DayResult{Day: d}
	for _, org := range s.orgs {
		if only != "" && org != only {
			continue
		}
		if s.fail[org+" "+d.String()] {
			res.Orgs = append(res.Orgs, archiver.OrgResult{Org: org, Outcome: archiver.OutcomeFailed, Err: errors.New("store hiccup")})
			continue
		}
		b := fmt.Appendf(nil, `{"version":%d,"org":%q,"date":%q,"revision":1}`, archiver.ManifestVersion, org, d.String())
		if err := s.store.Create(ctx, "orgs/"+org+"/days/"+d.String()+"/r0001.json", bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			return nil, err
		}
		res.Orgs = append(res.Orgs, archiver.OrgResult{Org: org, Outcome: archiver.OutcomeCommitted})
	}
	return res, nil
}

// TestFirstTickOfARunIsBounded: every `chatvault run` is a new process, whose one tick is
// its first: it starts from the watermark the last sealing tick left in the store (every
// day of each organization sealed from its start through a day), not from each
// organization's archivalStart. Counted: a run's tick over 5 organizations with 10 or 40
// sealed days each, after a run that sealed the day before, makes the same requests and
// lists the same keys, and seals the new day for each organization.
func TestFirstTickOfARunIsBounded(t *testing.T) {
	const orgs = 5
	first := day("2026-01-01")
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		store, ids := writableSealedStore(t, orgs, days, first)
		c := storetest.NewCounting(store)
		dir := directoryOf(ids, first)
		clk := NewFakeClock(first.Start().AddDate(0, 0, days+1).Add(30 * time.Minute))
		run := func() (Report, storetest.Counts) {
			t.Helper()
			s := &Scheduler{ // a new process
				NewSealer:  func() Sealer { return indexSealer{store: store, orgs: ids} },
				Ledger:     ledger.Ledger{Store: c},
				Watermarks: c,
				Directory:  func(context.Context) ([]byte, error) { return []byte(dir), nil },
				Clock:      clk,
				Retries:    -1,
				Logger:     slog.New(slog.DiscardHandler),
			}
			c.Reset()
			rep := s.Tick(context.Background())
			if rep.Err != nil || len(rep.Pending)+len(rep.Failed) != 0 {
				t.Fatalf("tick: %+v", rep)
			}
			return rep, c.Reset()
		}
		if rep, _ := run(); len(rep.Sealed) != orgs {
			t.Fatalf("the first run sealed %v, want the day for each of %d organizations", rep.Sealed, orgs)
		}
		clk.Add(24 * time.Hour)
		rep, cost := run()
		if len(rep.Sealed) != orgs {
			t.Fatalf("the next run sealed %v, want the new day for each of %d organizations", rep.Sealed, orgs)
		}
		t.Logf("%d organizations × %d sealed days: the next run's tick %v", orgs, days, cost)
		costs = append(costs, cost)
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] {
		t.Fatalf("a run's first tick grew with the days sealed: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "the one tick of each `chatvault run` over organizations with years of sealed days", reliability.Kept,
		"counted: it starts from the watermark the last sealing tick stored, not from each organization's archivalStart; the same requests and keys with 10 or 40 sealed days")
}

// TestWatermarkHidesNoDay: a watermark never keeps a day from being sealed. An
// organization's gap (a day whose seal failed while later days sealed) stays out of the
// watermark, so the next run seals it; a day after the watermark sealed by nobody is
// found; an archivalStart moved back before the watermark's start lists the organization
// afresh; and a store that lost the watermark's last day (restored from an older backup)
// is listed afresh too.
func TestWatermarkHidesNoDay(t *testing.T) {
	first := day("2026-01-01")
	ro, ids := sealedStore(t, 2, 10, first)
	root := ro.(*fsstore.Store).Dir()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	gap := day("2026-01-05")
	if err := os.RemoveAll(filepath.Join(root, "orgs", ids[0], "days", gap.String())); err != nil {
		t.Fatal(err)
	}
	dir := directoryOf(ids, first)
	clk := NewFakeClock(day("2026-01-12").Start().Add(30 * time.Minute))
	sealer := indexSealer{store: store, orgs: ids, fail: map[string]bool{ids[0] + " " + gap.String(): true}}
	run := func() Report {
		t.Helper()
		s := &Scheduler{NewSealer: func() Sealer { return sealer }, Ledger: ledger.Ledger{Store: store}, Watermarks: store,
			Directory: func(context.Context) ([]byte, error) { return []byte(dir), nil },
			Clock:     clk, Retries: -1, Logger: slog.New(slog.DiscardHandler)}
		return s.Tick(context.Background())
	}
	sealed := func(org string, d archiver.Day) bool {
		k, err := ledger.Ledger{Store: store}.DayKeys(context.Background(), org, d)
		if err != nil {
			t.Fatal(err)
		}
		return k.Revision != ""
	}
	// Run 1 seals the 11th; the gap fails again. Its watermark: org 0 through the 4th.
	run()
	if !sealed(ids[1], day("2026-01-11")) || sealed(ids[0], gap) {
		t.Fatal("run 1: want the 11th sealed and the gap not")
	}
	// Run 2, the next day: the gap's seal works now; a new process must still find it.
	clk.Add(24 * time.Hour)
	delete(sealer.fail, ids[0]+" "+gap.String())
	run()
	if !sealed(ids[0], gap) || !sealed(ids[0], day("2026-01-12")) {
		t.Fatal("run 2: the gap or the new day not sealed: the watermark hid a day")
	}
	// Run 3: archivalStart moved back two days, before the watermarks' start.
	clk.Add(24 * time.Hour)
	dir = strings.ReplaceAll(directoryOf(ids, first), first.String(), "2025-12-30")
	run()
	for _, org := range ids {
		if !sealed(org, day("2025-12-30")) || !sealed(org, day("2025-12-31")) {
			t.Fatalf("run 3: %s's days before its old start not sealed", org)
		}
	}
	// The store loses its newest days (an older backup restored, the watermarks kept),
	// org 1's watermark day (the 10th) among them: the next run lists it afresh and seals
	// them again.
	for _, d := range []string{"2026-01-10", "2026-01-11", "2026-01-12", "2026-01-13"} {
		for _, org := range ids {
			if err := os.RemoveAll(filepath.Join(root, "orgs", org, "days", d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Add(24 * time.Hour)
	run()
	for _, org := range ids {
		for _, d := range []string{"2026-01-10", "2026-01-11", "2026-01-12", "2026-01-13", "2026-01-14"} {
			if !sealed(org, day(d)) {
				t.Fatalf("after the restore: %s's %s not sealed", org, d)
			}
		}
	}
	reliability.Record(t, "operations", "scheduler watermark left by the last sealing run", reliability.Kept,
		"a gap stays out of it and is sealed by the next run; an archivalStart moved back before it, or a store that lost its last day, is listed afresh")
}

// TestFreshnessFirstReadFromWatermark: serve's freshness metrics, read first at each
// start, start from the watermark the last sealing tick left too: with 10 or 40 sealed
// days per organization, the first read costs the same requests and keys, and counts
// the same days pending.
func TestFreshnessFirstReadFromWatermark(t *testing.T) {
	const orgs = 5
	first := day("2026-01-01")
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		store, ids := writableSealedStore(t, orgs, days, first)
		dir := directoryOf(ids, first)
		clk := NewFakeClock(first.Start().AddDate(0, 0, days+1).Add(30 * time.Minute))
		s := &Scheduler{NewSealer: func() Sealer { return indexSealer{store: store, orgs: ids} }, Ledger: ledger.Ledger{Store: store},
			Watermarks: store, Directory: func(context.Context) ([]byte, error) { return []byte(dir), nil },
			Clock: clk, Retries: -1, Logger: slog.New(slog.DiscardHandler)}
		if rep := s.Tick(context.Background()); len(rep.Sealed) != orgs {
			t.Fatalf("the run sealed %v", rep.Sealed)
		}
		clk.Add(24 * time.Hour) // a day later: one day pending per organization
		c := storetest.NewCounting(store)
		md, err := model.ParseDirectory([]byte(dir))
		if err != nil {
			t.Fatal(err)
		}
		f := &Freshness{Ledger: ledger.Ledger{Store: c}, Watermarks: c, Directory: func(context.Context) (*model.Directory, error) { return md, nil },
			Now: clk.Now}
		if err := f.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if o := f.Orgs(); len(o) != orgs || o[0].Pending != 1 || o[0].LastSealed != archiver.DayOf(first.Start().AddDate(0, 0, days)) {
			t.Fatalf("first read: %+v", o)
		}
		cost := c.Counts()
		t.Logf("%d organizations × %d sealed days: serve's first freshness read %v", orgs, days, cost)
		costs = append(costs, cost)
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] {
		t.Fatalf("the first freshness read grew with the days sealed: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "serve's first freshness read over organizations with years of sealed days", reliability.Kept,
		"counted: it starts from the scheduler's watermark, not from each organization's archivalStart; the same requests and keys with 10 or 40 sealed days")
}

// writableSealedStore is sealedStore's store opened again for writing (a sealing tick
// stores its watermark), closed when the test ends.
func writableSealedStore(t *testing.T, orgs, days int, first archiver.Day) (*fsstore.Store, []string) {
	t.Helper()
	ro, ids := sealedStore(t, orgs, days, first)
	store, err := fsstore.New(ro.(*fsstore.Store).Dir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, ids
}
