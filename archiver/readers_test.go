package archiver_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
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
		heads, err := ledger.Ledger{Store: c, HeadWindow: window}.Heads(t.Context())
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

// TestChainHeadsLayout3: the witness's heads on a mixed store are each organization's
// true head whichever layout holds it: a chain continued in layout 3 whose last commit is
// a late revision of an old day (its head read from late/), a chain only in layout 3, and
// one not sealed since the upgrade (still in the old layout).
func TestChainHeadsLayout3(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dec30, dec31, jan1, jan2 := mustDay("2026-12-30"), mustDay("2026-12-31"), mustDay("2027-01-01"), mustDay("2027-01-02")
	mixed := storetest.NewChain(t, s, "org-a")
	mixed.Old(dec30, 1)
	mixed.Old(dec31, 0)
	mixed.Marker(jan1)
	mixed.Day(jan1, 2)
	mixed.Day(jan2, 0)
	mixed.Day(dec31, 4) // late
	only3 := storetest.NewChain(t, s, "org-b")
	only3.Day(jan1, 0)
	only3.Day(jan2, 7)
	old := storetest.NewChain(t, s, "org-c")
	old.Old(dec30, 0)
	old.Old(dec31, 3)

	c := storetest.NewCounting(s)
	heads, err := ledger.Ledger{Store: c}.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	type head struct {
		org, date string
		seq       int64
		rev       int
	}
	var got []head
	for _, h := range heads {
		got = append(got, head{h.Org, h.Date, h.Seq, h.Revision})
	}
	want := []head{{"org-a", "2026-12-31", 5, 2}, {"org-b", "2027-01-02", 2, 1}, {"org-c", "2026-12-31", 2, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("heads = %v, want %v", got, want)
	}
	t.Logf("heads of a mixed store of 3 organizations: %v", c.Counts())
	reliability.Record(t, "operations", "chain heads (witness, key rotation, hold floor) on a store in both layouts", reliability.Kept,
		"each organization's head through Ledger.Head: a late layout-3 head, a layout-3 chain, an old chain not sealed since the upgrade")
}

// TestRotationOutlivesTheNewestDay: a key rotation statement is kept as long as the
// longest-kept manifest, which is that of each organization's newest day, not of its
// chain head: a revision of an older day committed last (a rerun of that day; in layout 3
// a late commit) is the head, yet the days after it are kept longer.
func TestRotationOutlivesTheNewestDay(t *testing.T) {
	for _, layout := range []int{archiver.Layout2, archiver.Layout3} {
		t.Run(fmt.Sprint("layout ", layout), func(t *testing.T) {
			fs, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			ls := storetest.NewLockingStore(fs)
			const org, retention = "org-a", 30
			put := func(key string, m *archiver.Manifest) {
				b, err := json.MarshalIndent(m, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := ls.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			first, newest := mustDay("2027-01-01"), mustDay("2027-01-10")
			if layout == archiver.Layout3 {
				if _, err := archiver.WriteStoreLayout(t.Context(), ls, first); err != nil {
					t.Fatal(err)
				}
			}
			commit := func(d archiver.Day, rev int, seq int64, late bool) {
				m := &archiver.Manifest{Version: archiver.ManifestVersion, Org: org, Date: d.String(), Revision: rev, Seq: seq, RetentionDays: retention,
					Data: archiver.DataObject{Key: "k", Size: 1, SHA256: "s", JSONLSHA256: "j", Records: 1}}
				if layout == archiver.Layout2 {
					put(archiver.ChainKey(org, seq), m)
					put(archiver.RevisionKey(org, d, rev), m)
					return
				}
				m.Version, m.Late = archiver.ManifestVersion3, late
				if late {
					put(archiver.LateKey(org, seq), m)
				}
				put(archiver.DayKey3(org, d, rev), m)
			}
			seq := int64(0)
			for d := first; !d.After(newest); d = d.Next() {
				seq++
				commit(d, 1, seq, false)
			}
			commit(mustDay("2027-01-03"), 2, seq+1, true) // the head: a revision of an older day
			key, err := ledger.Ledger{Store: ls}.RecordRotation(t.Context(), signingKey(t), signingKey(t), "test",
				time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), archiver.CreateOptions{RetainUntil: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			lock, err := ls.Lock(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if want := newest.End().AddDate(0, 0, retention); !lock.RetainUntil.Equal(want) {
				t.Errorf("statement kept until %s, want %s (the newest day's end plus its retention)", lock.RetainUntil, want)
			}
		})
	}
	reliability.Record(t, "operations", "key rotation statement when an organization's last commit revised an older day", reliability.Kept,
		"kept until the newest day's end plus its retention, not the chain head's day's (a rerun or a late layout-3 commit)")
}

func signingKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
