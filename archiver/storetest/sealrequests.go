package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/reliability"
)

// MaxSealRequestsPerOrg is the most store requests a layout-3 seal may make per further
// organization-day, on a new store's first day, in a new process (no remembered heads) and
// in one that sealed the day before: the head lookup (a listing of d/, the tip's read, a
// listing of late/), the export and the manifest, and the fork check in one listing of
// the organization's keys past the tip. Issue 13 measured 9 on S3: the fork check listed
// d/ and late/ apart, a new process created the members object again, and a new store's
// first day looked for a layout-2 chain that cannot exist (TestLookups/SealRequestsPerOrg
// counted 8.93, 8.00 and 7.00 before, 5.93, 6.00 and 6.00 after).
const MaxSealRequestsPerOrg = 6

// sealRequests seals generated days over orgs organizations into s in layout 3 and
// returns the store requests of the first day's seal (a new store), of the third day's by a
// new process (cold) and of the fourth by the same process (warm, remembering the heads the
// third found).
func sealRequests(t *testing.T, s archiver.Store, orgs int) (fresh, cold, warm Counts, n int) {
	t.Helper()
	ctx := t.Context()
	logDir := t.TempDir()
	first := lookupDay(t, "2027-03-01")
	ds := days(t, first.String(), 4)
	for i, d := range ds {
		if _, err := synth.Generate(ctx, logDir, synth.Options{Day: d, Events: 40 * orgs, Orgs: orgs, Seed: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	seal := func(store archiver.Store, d archiver.Day) *archiver.DayResult {
		night := d.End().Add(30 * time.Minute)
		sl := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Layout: archiver.Layout3, TempDir: t.TempDir(), Generator: "chatvault test",
			Now: func() time.Time { return night },
		}}
		res, err := sl.Seal(context.WithoutCancel(ctx), d, dir, "")
		if err != nil {
			t.Fatalf("seal %s: %v", d, err)
		}
		for _, o := range res.Failed() {
			t.Fatalf("seal %s: organization %s failed: %v", d, o.Org, o.Err)
		}
		return res
	}
	c := NewCounting(s)
	seal(c, ds[0])
	fresh = c.Reset()
	seal(NewCounting(s), ds[1])
	c = NewCounting(s) // a new process
	res := seal(c, ds[2])
	cold = c.Reset()
	seal(c, ds[3])
	warm = c.Reset()
	return fresh, cold, warm, len(res.Orgs)
}

// testSealRequests counts the store requests of a layout-3 seal per further organization
// (the difference between a seal of many organizations and one of few, so that the day's
// own objects do not count), in a new process and in one that sealed the day before.
func testSealRequests(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	if testing.Short() {
		t.Skip("seals generated days")
	}
	fewFresh, fewCold, fewWarm, few := sealRequests(t, newStore(t), 6)
	manyFresh, manyCold, manyWarm, many := sealRequests(t, newStore(t), 30)
	if many-few < 10 {
		t.Fatalf("%d and %d archiving organizations: the generator changed", few, many)
	}
	for _, tt := range []struct {
		name      string
		few, many Counts
	}{
		{"first day of a new store", fewFresh, manyFresh},
		{"new process", fewCold, manyCold},
		{"next day, same process", fewWarm, manyWarm},
	} {
		per := float64(tt.many.Requests()-tt.few.Requests()) / float64(many-few)
		kinds := map[string]float64{}
		for _, k := range []string{"Create", "Open", "List", "ListAfter"} {
			kinds[k] = float64(tt.many[k]-tt.few[k]) / float64(many-few)
		}
		t.Logf("%s: %d orgs %v, %d orgs %v: %.2f requests per further organization-day (%s)", tt.name, few, tt.few, many, tt.many, per, fmtKinds(kinds))
		if per > MaxSealRequestsPerOrg {
			t.Errorf("%s: %.2f store requests per organization-day, want at most %d", tt.name, per, MaxSealRequestsPerOrg)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "layout-3 seal: store requests per organization-day", reliability.Kept,
		fmt.Sprintf("at most %d on a new store's first day, in a new process and in one that sealed the day before (were 9, 8 and 7): the post-commit fork check is one listing of the organization's keys past the tip (d/ then late/), the head's members object is not created again, a store in layout 3 from its first day is not searched for layout-2 chains", MaxSealRequestsPerOrg))
}

func fmtKinds(k map[string]float64) string {
	return fmt.Sprintf("Create %.2f, Open %.2f, List %.2f, ListAfter %.2f", k["Create"], k["Open"], k["List"], k["ListAfter"])
}
