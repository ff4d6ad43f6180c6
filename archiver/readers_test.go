package archiver_test

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

// oldLayoutStore is a folder store holding, for each of orgs organizations, days sealed
// days from 2026-01-01 in the store's first layout: chain entry, day index (the same
// bytes), export. retention is each manifest's retentionDays.
func oldLayoutStore(t *testing.T, orgs, days, retention int) archiver.Store {
	t.Helper()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	first, err := archiver.ParseDay("2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for o := range orgs {
		org := fmt.Sprintf("org-%04d", o)
		for d, i := first, 1; i <= days; d, i = d.Next(), i+1 {
			m := []byte(fmt.Sprintf(`{"version":%d,"org":%q,"date":%q,"revision":1,"seq":%d,"retentionDays":%d}`,
				archiver.ManifestVersion, org, d, i, retention+o))
			put(fmt.Sprintf("orgs/%s/manifests/%012d.json", org, i), m)
			put(fmt.Sprintf("orgs/%s/days/%s/r0001.json", org, d), m)
			put(fmt.Sprintf("orgs/%s/days/%s/events-%02d.jsonl.gz", org, d, i), []byte("gz"))
		}
	}
	return s
}

// TestChainHeadsPerOrganization: the chain heads (the witness's, key rotation's longest
// lock, a hold's floor) are found organization by organization through Ledger.Head, never
// by listing every object of orgs/: the keys listed do not grow with the days sealed.
func TestChainHeadsPerOrganization(t *testing.T) {
	const orgs, window = 5, 8
	for _, days := range []int{12, 48} {
		c := storetest.NewCounting(oldLayoutStore(t, orgs, days, 30))
		heads, err := archiver.Ledger{Store: c, HeadWindow: window}.Heads(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(heads) != orgs {
			t.Fatalf("%d heads, want %d", len(heads), orgs)
		}
		for i, h := range heads {
			if want := fmt.Sprintf("org-%04d", i); h.Org != want || h.Seq != int64(days) {
				t.Errorf("head %d = %s seq %d, want %s seq %d", i, h.Org, h.Seq, want, days)
			}
		}
		n := c.Counts()
		t.Logf("%d organizations × %d days: %v", orgs, days, n)
		// Per organization: its folder's name, and Head's listing of fewer than a window's
		// chain keys.
		if max := orgs * (1 + window); n["Keys"]+n["Folders"] > max {
			t.Errorf("%d days: %d keys and %d folders listed, want at most %d (no listing of every object of orgs/)", days, n["Keys"], n["Folders"], max)
		}
	}
	reliability.Record(t, "operations", "chain heads of every organization (witness, key rotation, hold floor)", reliability.Kept,
		"the organizations from one listing of the folders of orgs/, then each one's head by Ledger.Head: the keys listed do not grow with the days sealed")
}
