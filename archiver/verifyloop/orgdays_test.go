package verifyloop

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

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
