package archiver_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHoldLayout3: on a mixed store (an old chain continued in layout 3, with a late
// revision of an old day), a hold of a day holds all of it in both layouts: the old day
// folder and chain entries, the layout-3 manifests and export, and the late revision's
// copy under late/. A members object, which several days of an organization name, is held
// while any held day names it: lifting one day's hold keeps it held for another.
func TestHoldLayout3(t *testing.T) {
	ls := storetest.NewLockingStore(storetest.NewFolder(t))
	const org = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	dec30, dec31, jan1, jan2 := mustDay("2026-12-30"), mustDay("2026-12-31"), mustDay("2027-01-01"), mustDay("2027-01-02")
	c := storetest.NewChain(t, ls, org)
	c.Old(dec30, 5)
	c.Old(dec31, 0)
	c.Marker(jan1)
	c.Day(jan1, 3)
	c.Day(jan2, 0)
	late := c.Day(dec30, 6) // revision 2 of an old day, after 2027-01-02: late
	if !late.Late {
		t.Fatal("the revision of 2026-12-30 is not late")
	}
	written := slices.Clone(c.Keys)
	keysOf := func(day archiver.Day) []string {
		var out []string
		for _, k := range written {
			if bytes.Contains([]byte(k), []byte(day.String())) || bytes.Contains([]byte(k), []byte(day.Start().Format("2006/01/02"))) {
				out = append(out, k)
			}
		}
		return out
	}
	dec30Keys := append(keysOf(dec30), archiver.ChainKey(org, 1), archiver.LateKey(org, late.Seq))
	jan1Keys := keysOf(jan1)

	// Two more layout-3 days of another organization name one members object.
	const org2 = "0b1c2e3f-0000-4000-8000-00000000bbbb"
	members := []byte(`{"version":1,"org":"` + org2 + `","year":2027,"members":[]}` + "\n")
	msum := sha256.Sum256(members)
	mkey := archiver.MembersKey(org2, 2027, msum)
	put := func(key string, b []byte) {
		t.Helper()
		if err := ls.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(mkey, members)
	shared := map[archiver.Day][]string{}
	for i, d := range []archiver.Day{jan1, jan2} {
		m := &archiver.Manifest{Version: archiver.ManifestVersion3, Org: org2, OrgName: "B", Date: d.String(), Revision: 1, Seq: int64(i + 1),
			Window: archiver.Window{Start: d.Start().UnixMilli(), End: d.End().UnixMilli()},
			Data:   archiver.DataObject{JSONLSHA256: archiver.EmptySHA256},
			ChatIndex: &archiver.ChatIndexRef{Inline: &archiver.InlineChatIndex{Version: archiver.InlineChatIndexVersion,
				Members: archiver.MembersRef{Key: mkey, Size: int64(len(members)), SHA256: hex.EncodeToString(msum[:])}}}}
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		key := archiver.DayKey3(org2, d, 1)
		put(key, b)
		shared[d] = []string{key}
	}

	h := storetest.NewHolds(t, ls, time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC))
	hold := func(org, matter string, day archiver.Day, on bool) ledger.HoldResult {
		t.Helper()
		return h.Hold(org, matter, day, day, on)
	}
	want := h.Want
	hold(org, "case-1", dec30, true)
	want("the old day with a late revision", dec30Keys)
	hold(org, "case-1", jan1, true)
	want("and a layout-3 day", dec30Keys, jan1Keys)
	hold(org, "case-1", dec30, false)
	want("the old day lifted", jan1Keys)
	hold(org, "case-1", jan1, false)
	want("all lifted")

	hold(org2, "case-2", jan1, true)
	want("one day naming the members object", shared[jan1], []string{mkey})
	hold(org2, "case-3", jan2, true)
	want("two days naming it", shared[jan1], shared[jan2], []string{mkey})
	if r := hold(org2, "case-2", jan1, false); r.Kept != 1 || r.Released != 1 {
		t.Errorf("lifting one of the days: %+v, want its manifest released and the members object kept", r)
	}
	want("one day lifted: the other still names the members object", shared[jan2], []string{mkey})
	hold(org2, "case-3", jan2, false)
	want("both lifted")
	reliability.Record(t, "security", "legal hold of days in layout 3 and in a mixed store", reliability.Kept,
		"a day's manifests, export and late copy are held in either layout; a members object shared by days stays held while any held day names it")
}
