package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// runLookups3 checks the ledger's lookups on layout-3 and mixed stores (layout.go,
// docs/design/layout.md), counting requests as RunLookups does.
func runLookups3(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	t.Run("Layout3Head", func(t *testing.T) { testHead3(t, newStore) })
	t.Run("Layout3DayLookups", func(t *testing.T) { testDayLookups3(t, newStore) })
	t.Run("Layout3Status", func(t *testing.T) { testStatus3(t, newStore) })
	t.Run("MixedStore", func(t *testing.T) { testMixed(t, newStore) })
}

func days(t *testing.T, from string, n int) []archiver.Day {
	d := lookupDay(t, from)
	out := make([]archiver.Day, n)
	for i := range out {
		out[i], d = d, d.Next()
	}
	return out
}

// layout3Store builds a store whose organization was sealed in layout 3 from 2027-01-01
// for 50 days (every third day empty, a failed attempt before some), with a revision of
// the last day and then a late revision of 2027-01-10.
func layout3Store(t *testing.T, s archiver.Store) (*Chain, []archiver.Day) {
	c := NewChain(t, s, lookupOrg)
	ds := days(t, "2027-01-01", 50)
	c.Marker(ds[0])
	for i, d := range ds {
		if i%5 == 1 {
			c.Failed(archiver.Layout3, d, d.End().UnixMilli(), "disk full")
		}
		c.Day(d, int64(i%3))
	}
	c.Day(ds[49], 5)
	if m := c.Day(ds[9], 7); !m.Late {
		t.Fatal("a revision of an old day is not late")
	}
	return c, ds
}

func testHead3(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	s := newStore(t)
	c, ds := layout3Store(t, s)
	want := c.Seq()
	// No hint (a new process: a new counting store).
	cs := NewCounting(s)
	head, err := ledger.Ledger{Store: cs}.Head(t.Context(), lookupOrg)
	if err != nil {
		t.Fatal(err)
	}
	if head == nil || head.Seq != want || !head.Late {
		t.Fatalf("Head = %+v, want the late revision at seq %d", head, want)
	}
	n := cs.Reset()
	t.Logf("layout 3 head without hint (late head): %v", n)
	// A listing of d/ from this year on, the tip's read, a listing of late/ after it, the
	// late copy's read.
	if n.Requests() != 4 || n["List"]+n["ListAfter"] != 2 || n["Keys"] > 2*len(ds)+4 {
		t.Errorf("layout 3 Head without hint: %v; want 2 listings and 2 reads", n)
	}
	// With the hint: nothing new.
	if head, err = (ledger.Ledger{Store: cs}).Head(t.Context(), lookupOrg); err != nil || head.Seq != want {
		t.Fatalf("next Head = %+v, %v", head, err)
	}
	if n := cs.Reset(); n.Requests() != 3 || n["Keys"] != 0 {
		t.Errorf("layout 3 Head with hint, nothing new: %v; want 2 listings of nothing and the head's read", n)
	}
	// A new day, then a new empty day: the listing past the tip shows only what is new.
	for i, records := range []int64{3, 0} {
		d := ds[len(ds)-1]
		for range i + 1 {
			d = d.Next()
		}
		m := c.Day(d, records)
		head, err := ledger.Ledger{Store: cs}.Head(t.Context(), lookupOrg)
		if err != nil || head.Seq != m.Seq || head.Key != archiver.DayKey3(lookupOrg, d, 1) {
			t.Fatalf("Head after %s = %+v, %v", d, head, err)
		}
		n := cs.Reset()
		newKeys := 1
		if records > 0 {
			newKeys = 2
		}
		if n.Requests() != 3 || n["Keys"] != newKeys {
			t.Errorf("layout 3 Head with hint after a commit: %v; want 3 requests listing the %d new keys", n, newKeys)
		}
	}
	// An organization without a manifest in a marked store: none.
	if head, err := (ledger.Ledger{Store: s}).Head(t.Context(), "0f6c5b1e-none"); err != nil || head != nil {
		t.Errorf("Head of an organization with no chain = %v, %v", head, err)
	}
	reliability.Record(t, "operations", "finding an organization's chain head in layout 3", reliability.Kept,
		"without a hint: a listing of d/ from this year on, the tip's read, a listing of late/ after its seq and, for a late head, its read (4 requests); with the hint: a listing past the tip, one of late/ past the head's seq and one read (3), listing only the keys committed since")
}

func testDayLookups3(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	s := newStore(t)
	c, ds := layout3Store(t, s)
	cs := NewCounting(s)
	l := ledger.Ledger{Store: cs}
	ctx := t.Context()
	for _, tt := range []struct {
		day     archiver.Day
		rev     int
		records int64
	}{
		{ds[0], 1, 0},
		{ds[4], 1, 1},
		{ds[9], 2, 7}, // the late revision
		{ds[49], 2, 5},
	} {
		cs.Reset()
		m, err := l.Latest(ctx, lookupOrg, tt.day)
		if err != nil || m == nil || m.Revision != tt.rev || m.Data.Records != tt.records {
			t.Fatalf("Latest %s = %+v, %v; want revision %d", tt.day, m, err, tt.rev)
		}
		if n := cs.Reset(); n.Requests() != 2 || n["List"] != 1 {
			t.Errorf("Latest of a layout 3 day: %v; want one listing of the day and one read", n)
		}
		k, err := l.DayKeys(ctx, lookupOrg, tt.day)
		if err != nil || k.Revision != archiver.DayKey3(lookupOrg, tt.day, tt.rev) {
			t.Errorf("DayKeys %s = %+v, %v", tt.day, k, err)
		}
		if n := cs.Reset(); n.Requests() != 1 {
			t.Errorf("DayKeys of a layout 3 day: %v; want one listing", n)
		}
	}
	// A day without records serves the constant empty gzip: no object to open.
	m, rc, err := l.OpenExport(ctx, lookupOrg, ds[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, archiver.EmptyExport()) || m.Data.Key != "" {
		t.Errorf("OpenExport of an empty day: %d bytes, key %q, %v; want the empty gzip", len(b), m.Data.Key, err)
	}
	if n := cs.Reset(); n.Requests() != 2 {
		t.Errorf("OpenExport of an empty layout 3 day: %v; want the day's listing and its manifest's read, no object", n)
	}
	// A day never sealed: one listing (it is after since: layout 2 is not looked at).
	if m, err := l.Latest(ctx, lookupOrg, ds[49].Next().Next().Next()); err != nil || m != nil {
		t.Errorf("Latest of a day never sealed = %v, %v", m, err)
	}
	if n := cs.Reset(); n.Requests() != 1 {
		t.Errorf("Latest of a day never sealed after since: %v; want one listing", n)
	}
	// Failed attempts in layout 3.
	failed, msg, err := l.Failed(ctx, lookupOrg, ds[1])
	if err != nil || !failed || msg != "disk full" {
		t.Errorf("Failed = %v %q %v", failed, msg, err)
	}
	if n := cs.Reset(); n.Requests() != 2 {
		t.Errorf("Failed: %v; want one listing and one read", n)
	}
	// A given revision: one read.
	if m, err := l.ManifestAt(ctx, lookupOrg, ds[9], 1); err != nil || m == nil || m.Seq != 10 {
		t.Errorf("ManifestAt = %+v, %v", m, err)
	}
	if n := cs.Reset(); n.Requests() != 1 {
		t.Errorf("ManifestAt: %v; want one read", n)
	}
	// Every manifest of a day, and its objects.
	var revs []int
	if err := l.DayManifests(ctx, lookupOrg, ds[49], func(m *archiver.StoredManifest) error {
		revs = append(revs, m.Revision)
		return nil
	}); err != nil || fmt.Sprint(revs) != "[1 2]" {
		t.Errorf("DayManifests = %v, %v", revs, err)
	}
	_ = c
	reliability.Record(t, "operations", "a day's latest revision, keys, failures and export in layout 3", reliability.Kept,
		"one listing of the day's prefix and one read; a day without records serves the constant empty gzip without an object; a day never sealed after the layout marker's since is one listing")
}

func testStatus3(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	s := newStore(t)
	_, ds := layout3Store(t, s)
	from, to := ds[5], ds[44]
	cs := NewCounting(s)
	rows, err := ledger.Ledger{Store: cs}.Status(t.Context(), lookupOrg, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 40 {
		t.Fatalf("Status gave %d rows, want 40", len(rows))
	}
	for i, row := range rows {
		want := ledger.StateSealed
		if (i+5)%3 == 0 && i+5 != 9 { // 2027-01-10 was revised with records (late)
			want = ledger.StateEmpty
		}
		if row.Day != ds[i+5] || row.State != want {
			t.Errorf("%s: %s, want %s", row.Day, row.State, want)
		}
	}
	n := cs.Counts()
	t.Logf("status of 40 layout 3 days: %v", n)
	if n["List"]+n["ListAfter"] != 1 || n["Open"] != 40 {
		t.Errorf("Status of 40 layout 3 days: %v; want one listing and one read per day", n)
	}
	reliability.Record(t, "operations", "status of a range of days in layout 3", reliability.Kept,
		"one listing of d/ from the range's first day, stopped past its last, and one read per sealed day")
}

// mixedStore: an organization sealed 30 days in layout 2 (2026-12-01…30), then in layout 3
// from 2026-12-31 (since) for 20 days, one chain; then a late revision of an old-layout
// day (2026-12-10, now in layout 3). A second organization was sealed only in layout 2.
func mixedStore(t *testing.T, s archiver.Store) (*Chain, []archiver.Day) {
	c := NewChain(t, s, lookupOrg)
	other := NewChain(t, s, lookupOrg+"-old")
	ds := days(t, "2026-12-01", 50)
	for i, d := range ds[:30] {
		c.Old(d, int64(i%2))
		other.Old(d, 1)
	}
	c.Failed(archiver.Layout2, ds[29], ds[29].End().UnixMilli()-1, "old failure")
	c.Marker(ds[30])
	for i, d := range ds[30:] {
		c.Day(d, int64(i%2))
	}
	if m := c.Day(ds[9], 4); !m.Late || m.Revision != 2 {
		t.Fatalf("a revision of an old-layout day after the upgrade: %+v; want late revision 2", m)
	}
	return c, ds
}

func testMixed(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	s := newStore(t)
	c, ds := mixedStore(t, s)
	ctx := t.Context()
	cs := NewCounting(s)
	l := ledger.Ledger{Store: cs}
	// The chain crosses the boundary.
	if m := c.Manifest[30]; m.PreviousKey != archiver.ChainKey(lookupOrg, 30) || m.Seq != 31 {
		t.Fatalf("first layout 3 manifest: seq %d previousKey %q", m.Seq, m.PreviousKey)
	}
	head, err := l.Head(ctx, lookupOrg)
	if err != nil || head == nil || head.Seq != c.Seq() {
		t.Fatalf("Head = %+v, %v; want seq %d", head, err, c.Seq())
	}
	if n := cs.Reset(); n.Requests() > 4 {
		t.Errorf("Head of a mixed store's organization: %v; want at most 4 requests", n)
	}
	// An organization not sealed since the upgrade: its old head, by the old probe.
	oldOrg := lookupOrg + "-old"
	head, err = l.Head(ctx, oldOrg)
	if err != nil || head == nil || head.Seq != 30 || head.Key != archiver.ChainKey(oldOrg, 30) {
		t.Fatalf("Head of an organization sealed only in layout 2 = %+v, %v", head, err)
	}
	n := cs.Reset()
	t.Logf("head of an organization only in layout 2, in a marked store: %v", n)
	// d/ from this year on, d/ from its start (empty: layout 2), then the old probe (a
	// miss, a listing, a read).
	if n.Requests() > 5 {
		t.Errorf("Head of an organization only in layout 2 in a marked store: %v; want at most 5 requests", n)
	}
	if head, err = l.Head(ctx, oldOrg); err != nil || head.Seq != 30 {
		t.Fatalf("next Head = %+v, %v", head, err)
	}
	if n := cs.Reset(); n.Requests() > 3 {
		t.Errorf("next Head of an organization only in layout 2: %v; want d/ listed once, then the old chain past the hint (3 requests)", n)
	}
	for _, tt := range []struct {
		day      archiver.Day
		rev      int
		key      string
		requests int
	}{
		{ds[3], 1, archiver.RevisionKey(lookupOrg, ds[3], 1), 3},   // before since: d/ first, then the old folder
		{ds[9], 2, archiver.DayKey3(lookupOrg, ds[9], 2), 2},       // before since, revised in layout 3
		{ds[35], 1, archiver.DayKey3(lookupOrg, ds[35], 1), 2},     // after since
		{ds[30], 1, archiver.DayKey3(lookupOrg, ds[30], 1), 2},     // since itself
		{ds[29], 1, archiver.RevisionKey(lookupOrg, ds[29], 1), 3}, // the last old day
	} {
		m, err := l.Latest(ctx, lookupOrg, tt.day)
		if err != nil || m == nil || m.Revision != tt.rev || m.Key != tt.key {
			t.Fatalf("Latest %s = %+v, %v; want %s", tt.day, m, err, tt.key)
		}
		if n := cs.Reset(); n.Requests() != tt.requests {
			t.Errorf("Latest %s: %v; want %d requests", tt.day, n, tt.requests)
		}
	}
	// Status across the boundary: one listing per layout.
	rows, err := l.Status(ctx, lookupOrg, ds[20], ds[39])
	if err != nil || len(rows) != 20 {
		t.Fatalf("Status = %d rows, %v", len(rows), err)
	}
	for i, row := range rows {
		d := ds[20+i]
		if row.Day != d || row.Manifest == nil || (row.Manifest.Version == archiver.ManifestVersion3) != !d.Before(ds[30]) {
			t.Errorf("%s: %+v", d, row)
		}
	}
	if rows[9].FailedLater != "" || rows[9].State != ledger.StateEmpty && rows[9].State != ledger.StateSealed {
		t.Errorf("%s: %+v", rows[9].Day, rows[9])
	}
	n = cs.Reset()
	t.Logf("status of 20 days across the layouts: %v", n)
	if n["List"]+n["ListAfter"] != 2 || n["Open"] != 20 {
		t.Errorf("Status across the layouts: %v; want a listing per layout and a read per day", n)
	}
	// ListDays over the whole history: every day once, in order, the late revision from
	// layout 3.
	var got []string
	if err := l.ListDays(ctx, lookupOrg, archiver.Day{}, func(k ledger.DayKeys) error {
		got = append(got, k.Day.String())
		if k.Day == ds[9] && k.Revision != archiver.DayKey3(lookupOrg, ds[9], 2) {
			t.Errorf("ListDays %s: %+v; want its layout 3 revision", k.Day, k)
		}
		if k.Day == ds[29] && k.Failed == "" {
			t.Errorf("ListDays %s: %+v; want its old failure", k.Day, k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0] != ds[0].String() || got[49] != ds[49].String() {
		t.Errorf("ListDays gave %d days: %v", len(got), got)
	}
	// ListDays stops when asked, in either part.
	count := 0
	if err := l.ListDays(ctx, lookupOrg, ds[25], func(ledger.DayKeys) error {
		count++
		if count == 8 {
			return archiver.ErrStopListing
		}
		return nil
	}); err != nil || count != 8 {
		t.Errorf("ListDays stopped after %d, %v", count, err)
	}
	// A revision of an old day, wherever it is.
	for _, tt := range []struct {
		rev     int
		version int
	}{{1, archiver.ManifestVersion}, {2, archiver.ManifestVersion3}} {
		m, err := l.ManifestAt(ctx, lookupOrg, ds[9], tt.rev)
		if err != nil || m == nil || m.Version != tt.version {
			t.Errorf("ManifestAt %s r%d = %+v, %v", ds[9], tt.rev, m, err)
		}
	}
	var revs []int
	if err := l.DayManifests(ctx, lookupOrg, ds[9], func(m *archiver.StoredManifest) error {
		revs = append(revs, m.Revision)
		return nil
	}); err != nil || fmt.Sprint(revs) != "[1 2]" {
		t.Errorf("DayManifests of a day in both layouts = %v, %v", revs, err)
	}
	// A manifest moved to the other layout's key is not trusted.
	moved := c.Manifest[35]
	b := encode(t, moved)
	put(t, s, archiver.RevisionKey(lookupOrg, ds[2], 2), string(bytes.ReplaceAll(b, []byte(ds[35].String()), []byte(ds[2].String()))))
	if _, err := l.Latest(ctx, lookupOrg, ds[2]); !errors.Is(err, ledger.ErrUntrustedManifest) {
		t.Errorf("Latest of a version 3 manifest under a layout 2 key: %v; want ErrUntrustedManifest", err)
	}
	reliability.Record(t, "operations", "lookups on a mixed store (an old chain continued in layout 3)", reliability.Kept,
		"one chain across the boundary (previousKey names the old chain key); a day before the marker's since is looked up in layout 3 first, then in its old folder (3 requests), a day after it in layout 3 only (2); status across the boundary is one listing per layout and a read per day; an organization not sealed since the upgrade keeps its old head")
	reliability.Record(t, "security", "a version 3 manifest read from a layout 2 key (or the reverse)", reliability.Refused,
		"Latest refuses it as untrusted: a manifest's version decides the only key it may be read from")
}
