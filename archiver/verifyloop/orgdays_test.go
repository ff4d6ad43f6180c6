package verifyloop

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOrgDaysPerOrganization: the slices' list of the store's sealed organization-days
// is read organization by organization through the ledger (Ledger.Orgs, then each one's
// sealed days), not by listing every object of orgs/ and parsing day index keys: the
// chain's own keys are never listed, and the layout of days is the ledger's business.
func TestOrgDaysPerOrganization(t *testing.T) {
	const orgs, days = 4, 10
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string, b []byte) {
		if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var want []OrgDay
	for o := range orgs {
		org := fmt.Sprintf("org-%04d", o)
		for d, i := day(t, "2026-01-01"), 1; i <= days; d, i = d.Next(), i+1 {
			m := []byte(fmt.Sprintf(`{"version":%d,"org":%q,"date":%q,"revision":1,"seq":%d}`, archiver.ManifestVersion, org, d, i))
			put(fmt.Sprintf("orgs/%s/manifests/%012d.json", org, i), m)
			if i == 4 {
				continue // a day whose index is missing is not a sealed day of the listing
			}
			put(fmt.Sprintf("orgs/%s/days/%s/r0001.json", org, d), m)
			put(fmt.Sprintf("orgs/%s/days/%s/events-%02d.jsonl.gz", org, d, i), []byte("gz"))
			want = append(want, OrgDay{org, d})
		}
	}
	c := storetest.NewCounting(s)
	l := &Loop{Store: c}
	got, err := l.orgDays(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("orgDays = %v\nwant %v", got, want)
	}
	n := c.Counts()
	t.Logf("%d organizations × %d days: %v", orgs, days, n)
	// The days' own keys (index and export) and the organizations' folders; none of the
	// chain's.
	if max := orgs*(days-1)*2 + orgs; n["Keys"]+n["Folders"] > max {
		t.Errorf("%d keys and %d folders listed, want at most %d: the chain entries must not be listed", n["Keys"], n["Folders"], max)
	}
	reliability.Record(t, "operations", "continuous verification's list of the sealed organization-days", reliability.Kept,
		"organization by organization through the ledger (its folders, then each one's sealed days), never every object of orgs/")
}

// TestOrgDaysLayout3: on a mixed store, the slices' list of sealed organization-days holds
// each sealed day once, whichever layout holds its revisions (an old day with a late
// layout-3 revision among them), and no day that only failed.
func TestOrgDaysLayout3(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dec30, dec31, jan1, jan2, jan3 := day(t, "2026-12-30"), day(t, "2026-12-31"), day(t, "2027-01-01"), day(t, "2027-01-02"), day(t, "2027-01-03")
	a := storetest.NewChain(t, s, acme)
	a.Old(dec30, 1)
	a.Old(dec31, 0)
	a.Marker(jan1)
	a.Day(jan1, 2)
	a.Failed(archiver.Layout3, jan2, 1000, "boom")
	a.Day(jan3, 0)
	a.Day(dec30, 4) // late
	g := storetest.NewChain(t, s, globex)
	g.Day(jan2, 0)
	got, err := (&Loop{Store: storetest.NewCounting(s)}).orgDays(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []OrgDay{{acme, dec30}, {acme, dec31}, {acme, jan1}, {acme, jan3}, {globex, jan2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("orgDays = %v\nwant %v", got, want)
	}
	reliability.Record(t, "operations", "continuous verification's list of sealed organization-days on a store in both layouts", reliability.Kept,
		"each sealed day once, old or layout 3, a late revision of an old day included; failed-only days left out")
}

// TestSliceLayout3: serve's continuous verification on a store the writer continued in
// layout 3: a slice verifies every sealed organization-day of both layouts and finds
// nothing; a day the scheduler seals in layout 3 is verified at once; a layout-3 export
// changed after its seal is found by the next slice, named by its key.
func TestSliceLayout3(t *testing.T) {
	a := newArchive(t, "2026-11-22")
	a.layout = archiver.Layout3
	a.seal(t, "2026-11-23")
	c := &clock{now: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}
	d := start(t, newLoop(a, c, time.Hour, time.Hour)) // one slice is the whole store
	if r := d.next(); r.Kind != KindSlice || !r.OK() || r.OrgDays != 4 || r.Objects == 0 {
		t.Fatalf("first slice of the mixed store: %+v", r)
	}
	a.seal(t, "2026-11-24")
	d.Sealed(acme, day(t, "2026-11-24"))
	want := []Range{{Org: acme, From: "2026-11-24", To: "2026-11-24", Days: 1}}
	if r := d.next(); r.Kind != KindSealed || !slices.Equal(r.Ranges, want) || !r.OK() {
		t.Fatalf("run after the layout-3 seal: %+v", r)
	}
	key := a.tamper(t, globex, "2026-11-24")
	rec, _ := d.slice(c.add(time.Hour))
	if rec.StoreOrgDays != 6 || rec.Problems == 0 || !slices.ContainsFunc(rec.ProblemDetails, func(p string) bool { return strings.Contains(p, key) }) {
		t.Fatalf("slice after tampering with %s: %+v", key, rec)
	}
	reliability.Record(t, "security", "continuous verification of a store the writer continued in layout 3", reliability.CleanFailure,
		"slices cover the sealed days of both layouts; a layout-3 day sealed by the scheduler is verified at once; a layout-3 export changed after its seal is found by the next slice")
}
