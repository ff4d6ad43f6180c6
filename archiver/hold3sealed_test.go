package archiver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// threeDayLog is an event log folder whose 2026-11-22, -23 and -24 are each the sample day.
func threeDayLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"2026-11-22", "2026-11-23", "2026-11-24"} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(sampleLog, "2026-11-22"))); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(sampleLog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "directory.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHoldSealedLayout3: holds on a store the writer made, the old layout's first day
// continued in layout 3. A hold placed before a layout-3 seal is applied by the seal to
// what it stored (the manifest at its day key, the export, the members object) and to the
// day's shared objects; a hold of an old day and a layout-3 day holds both; the members
// object, named by every layout-3 day of the organization here, stays held while any
// held day names it.
func TestHoldSealedLayout3(t *testing.T) {
	f := newFixture(t, threeDayLog(t))
	ls := storetest.NewLockingStore(f.store)
	d22, d23, d24 := mustDay("2026-11-22"), mustDay("2026-11-23"), mustDay("2026-11-24")
	h := storetest.NewHolds(t, ls, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	hold := func(matter string, from, to archiver.Day, on bool) ledger.HoldResult {
		t.Helper()
		return h.Hold(acme, matter, from, to, on)
	}
	hold("case-1", d24, d24, true)

	now := func() time.Time { return time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC) }
	shared := map[archiver.Day][]string{}
	for _, d := range []archiver.Day{d22, d23, d24} {
		opt := archiver.Options{Layout: archiver.Layout2, Now: now, TempDir: t.TempDir(), Generator: "chatvault test"}
		if d != d22 {
			opt.Layout = archiver.Layout3
		}
		s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: opt}
		res, err := s.Seal(t.Context(), d, f.directory, "")
		if err != nil {
			t.Fatalf("seal %s: %v", d, err)
		}
		for _, o := range res.Failed() {
			t.Fatalf("seal %s: %s failed: %v", d, o.Org, o.Err)
		}
		shared[d] = []string{res.Quarantine.Key, res.Accounting}
	}
	// What the store holds, found by listing it, not through the ledger.
	var all []string
	if err := ls.List(t.Context(), "orgs/"+acme+"/", func(k string) error { all = append(all, k); return nil }); err != nil {
		t.Fatal(err)
	}
	keysUnder := func(p string) []string {
		var out []string
		for _, k := range all {
			if strings.HasPrefix(k, p) {
				out = append(out, k)
			}
		}
		if len(out) == 0 {
			t.Fatalf("nothing stored under %s", p)
		}
		return out
	}
	own := map[archiver.Day][]string{
		d22: append(keysUnder(archiver.DayPrefix(acme, d22)), archiver.ChainKey(acme, 1)),
		d23: keysUnder(archiver.DayPrefix3(acme, d23)),
		d24: keysUnder(archiver.DayPrefix3(acme, d24)),
	}
	members := keysUnder(archiver.MembersPrefix(acme))
	if len(members) != 1 {
		t.Fatalf("members objects %q, want the one both layout-3 days name", members)
	}
	want := h.Want
	want("held before the seal", own[d24], members, shared[d24])
	hold("case-2", d22, d23, true)
	want("an old day and a layout-3 day held too", own[d22], own[d23], own[d24], members, shared[d22], shared[d23], shared[d24])
	hold("case-1", d24, d24, false)
	want("the day sealed held lifted: 2026-11-23 still names the members object", own[d22], own[d23], members, shared[d22], shared[d23])
	hold("case-2", d22, d23, false)
	want("all lifted")
	reliability.Record(t, "security", "legal hold on a store the layout-3 writer made, continuing an old chain", reliability.Kept,
		"a hold placed before a layout-3 seal holds what it stored and its members object; old and layout-3 days are held alike; the members object stays held while a held day names it")
}

// TestChainHeadsSealedLayout3: the witness's heads of a store the writer continued in
// layout 3 are the layout-3 heads, each organization's last commit.
func TestChainHeadsSealedLayout3(t *testing.T) {
	f := newFixture(t, threeDayLog(t))
	now := func() time.Time { return time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC) }
	for i, d := range []archiver.Day{mustDay("2026-11-22"), mustDay("2026-11-23"), mustDay("2026-11-24")} {
		opt := archiver.Options{Now: now, TempDir: t.TempDir(), Generator: "chatvault test"}
		if i > 0 {
			opt.Layout = archiver.Layout3
		}
		f.seal(t, d, opt)
	}
	c := storetest.NewCounting(f.store)
	heads, err := ledger.Ledger{Store: c}.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 {
		t.Fatalf("heads %+v, want acme's and globex's", heads)
	}
	for _, h := range heads {
		if h.Seq != 3 || h.Date != "2026-11-24" || h.Revision != 1 {
			t.Errorf("head of %s: %+v, want seq 3 of 2026-11-24", h.Org, h)
		}
	}
	t.Logf("heads of 2 organizations: %v", c.Counts())
	reliability.Record(t, "operations", "witness heads of a store the writer continued in layout 3", reliability.Kept,
		"each organization's layout-3 head, found through Ledger.Head per organization")
}
