package scheduler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestDayIndexMixedStore: the scheduler's look at an organization whose old chain was
// continued in layout 3 finds every sealed day in either layout, the gaps in both (an old
// day never sealed, a layout-3 day that failed), and a gap sealed later by a late
// revision; after the first look, a look costs one listing and one lookup per gap, as on
// an old store (two for a gap before the layout marker's since).
func TestDayIndexMixedStore(t *testing.T) {
	s := storetest.NewFolder(t)
	const org = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	d := func(s string) archiver.Day { return day(s) }
	c := storetest.NewChain(t, s, org)
	c.Old(d("2026-12-28"), 1)
	// 2026-12-29: never sealed (a gap in the old layout).
	c.Old(d("2026-12-30"), 0)
	c.Old(d("2026-12-31"), 2)
	c.Marker(d("2027-01-01"))
	c.Day(d("2027-01-01"), 0)
	c.Failed(archiver.Layout3, d("2027-01-02"), 1000, "boom") // a gap in layout 3
	c.Day(d("2027-01-03"), 5)

	counting := storetest.NewCounting(s)
	var x dayIndex
	from, today := d("2026-12-28"), d("2027-01-05")
	look := func() (string, int) {
		t.Helper()
		counting.Reset()
		v, err := x.look(t.Context(), ledger.Ledger{Store: counting}, org, from, today)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		v.unsealed(today, func(d archiver.Day) { got = append(got, d.String()) })
		return fmt.Sprintf("last %s unsealed %v", v.last, got), counting.Counts().Requests()
	}
	want := "last 2027-01-03 unsealed [2026-12-29 2027-01-02 2027-01-04]"
	if got, n := look(); got != want {
		t.Fatalf("first look: %s (%d requests), want %s", got, n, want)
	}
	// One listing from the last sealed day; a lookup of each gap: one for 2027-01-02, two
	// for 2026-12-29, a day before the marker's since (layout 3, where a late seal would
	// be, then its old folder).
	if got, n := look(); got != want || n != 4 {
		t.Errorf("second look: %s in %d requests, want %s in 4 (one listing, a lookup per gap, two before since)", got, n, want)
	}
	// The old gap sealed now, after the upgrade: a late revision in layout 3.
	c.Day(d("2026-12-29"), 1)
	want = "last 2027-01-03 unsealed [2027-01-02 2027-01-04]"
	if got, n := look(); got != want {
		t.Errorf("after the late seal of an old gap: %s (%d requests), want %s", got, n, want)
	}
	reliability.Record(t, "operations", "scheduler tick on a store in both layouts", reliability.Kept,
		"sealed days and gaps found in either layout (an old gap sealed late in layout 3 included); after the first look, one listing per organization and one lookup per gap")
}

// TestCatchUpAcrossLayouts: serve's ticks over a store whose writer switches to layout 3:
// days sealed in the old layout are not sealed again, the days after them are sealed in
// layout 3, and a gap of the old layout (its partition delivered late) is sealed in layout
// 3 once it can be (a late commit); then a tick with nothing to seal costs one listing
// or two (a last sealed day before the layout marker's since is listed in both layouts),
// as it costs one on an old store.
func TestCatchUpAcrossLayouts(t *testing.T) {
	const days = 10
	first := day("2026-11-01")
	missing := first.Next().Next()
	clk := NewFakeClock(first.Start().AddDate(0, 0, 5).Add(30 * time.Minute))
	layout := archiver.Layout2 // the old layout, explicitly: the default is 3
	s, store, logDir := realSetupLayout(t, clk, first, days, &layout)
	late := filepath.Join(t.TempDir(), "late")
	if err := os.Rename(filepath.Join(logDir, missing.String()), late); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	sealed := func(rep Report) []string {
		var out []string
		for _, s := range rep.Sealed {
			out = append(out, s[:10])
		}
		return out
	}
	if rep := s.Tick(ctx); !slices.Equal(sealed(rep), []string{"2026-11-01", "2026-11-02", "2026-11-04", "2026-11-05"}) || rep.Err != nil {
		t.Fatalf("first tick (old layout): %+v", rep)
	}
	layout = archiver.Layout3
	clk.Set(first.Start().AddDate(0, 0, days).Add(30 * time.Minute))
	if rep := s.Tick(ctx); !slices.Equal(sealed(rep), []string{"2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09", "2026-11-10"}) || rep.Err != nil {
		t.Fatalf("second tick (layout 3): %+v", rep)
	}
	if err := os.Rename(late, filepath.Join(logDir, missing.String())); err != nil {
		t.Fatal(err)
	}
	if rep := s.Tick(ctx); !slices.Equal(sealed(rep), []string{missing.String()}) || rep.Err != nil {
		t.Fatalf("third tick (the old gap, delivered): %+v", rep)
	}
	// The next tick looks the gap up once more (it was a gap when the third tick looked),
	// finds it sealed and forgets it; from then on a tick is the listing alone.
	for i, want := range []int{3, 2} {
		store.Reset()
		if rep := s.Tick(ctx); len(rep.Sealed) != 0 || rep.Err != nil {
			t.Fatalf("tick %d: %+v", i+4, rep)
		}
		if n := store.Reset(); n.Requests() > want {
			t.Errorf("tick %d, nothing to seal: %d requests (%v), want at most %d", i+4, n.Requests(), n, want)
		}
	}

	l := ledger.Ledger{Store: store}
	head, err := l.Head(ctx, orgA)
	if err != nil || head == nil || head.Seq != days || head.Date != missing.String() || !head.Late {
		t.Fatalf("head %+v (%v), want seq %d: the late layout-3 commit of %s", head, err, days, missing)
	}
	st, err := l.Status(ctx, orgA, first, archiver.DayOf(first.Start().AddDate(0, 0, days-1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range st {
		wantV := 3
		if row.Day.Before(day("2026-11-06")) && row.Day != missing {
			wantV = archiver.ManifestVersion
		}
		if row.State != ledger.StateEmpty || row.Manifest.Version != wantV {
			t.Errorf("%s: %s, manifest version %d; want empty, version %d", row.Day, row.State, row.Manifest.Version, wantV)
		}
	}
	reliability.Record(t, "operations", "scheduler catch-up across the switch to layout 3", reliability.Kept,
		"old days not sealed again, later days and an old gap sealed in layout 3 (the gap as a late commit); a tick with nothing to seal costs at most two requests")
}
