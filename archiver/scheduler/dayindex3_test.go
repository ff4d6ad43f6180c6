package scheduler

import (
	"fmt"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestDayIndexMixedStore: the scheduler's look at an organization whose old chain was
// continued in layout 3 finds every sealed day in either layout, the gaps in both (an old
// day never sealed, a layout-3 day that failed), and a gap sealed later by a late
// revision; after the first look, a look costs one listing and one lookup per gap, as on
// an old store (two for a gap before the layout marker's since).
func TestDayIndexMixedStore(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
		v, err := x.look(t.Context(), archiver.Ledger{Store: counting}, org, from, today)
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
