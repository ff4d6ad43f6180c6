package archiver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

func TestVerifyLocksAndVersions(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	whole(res)
	if err != nil {
		t.Fatal(err)
	}
	lg := ledger.Ledger{Store: ls}
	rep, err := verify.Run(context.Background(), lg, verify.Options{})
	if err != nil || !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("verify of a correctly locked store: %v, problems %v, warnings %v", err, rep.Problems, rep.Warnings)
	}

	acmeData := res.Orgs[0].Data.Key
	if !strings.Contains(acmeData, acme) {
		acmeData = res.Orgs[1].Data.Key
	}
	chain := "orgs/" + globex + "/manifests/000000000001.json"
	ls.SetLock(acmeData, archiver.ObjectLock{Mode: archiver.ModeCompliance, RetainUntil: sampleDay.End().AddDate(0, 0, 30)})
	chainLock, _ := ls.Lock(context.Background(), chain)
	ls.SetLock(chain, archiver.ObjectLock{Mode: "GOVERNANCE", RetainUntil: chainLock.RetainUntil})
	ls.AddVersion(
		archiver.ObjectVersion{Key: res.Quarantine.Key, VersionID: "dm", DeleteMarker: true},
		archiver.ObjectVersion{Key: chain, VersionID: "v2"})
	rep, err = verify.Run(context.Background(), lg, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		acmeData + ": retained until " + sampleDay.End().AddDate(0, 0, 30).Format(time.RFC3339),
		chain + `: lock mode "GOVERNANCE"`,
		res.Quarantine.Key + ": delete marker dm",
		chain + ": 2 versions",
	} {
		if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("verify does not report %q; problems:\n%s", want, strings.Join(rep.Problems, "\n"))
		}
	}
}

// TestHold places and lifts holds of two organizations and two matters on the sample day,
// whose quarantine and accounting objects both organizations share: an object stays held
// while any hold on it remains, and every event is recorded.
func TestHold(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	whole(res)
	if err != nil {
		t.Fatal(err)
	}
	own := map[string][]string{}
	for _, o := range res.Orgs {
		own[o.Org] = []string{
			"orgs/" + o.Org + "/days/" + sampleDay.String() + "/r0001.json",
			"orgs/" + o.Org + "/manifests/000000000001.json",
			o.Data.Key,
			o.ChatIndex.Key,
		}
		if o.Quarantined != nil {
			own[o.Org] = append(own[o.Org], o.Quarantined.Key)
		}
	}
	shared := []string{res.Quarantine.Key, res.Accounting}
	lg := ledger.Ledger{Store: ls}
	h := storetest.NewHolds(t, ls, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hold := func(org, matter string, on bool) ledger.HoldResult {
		t.Helper()
		return h.Hold(org, matter, sampleDay, sampleDay, on)
	}
	want := h.Want

	if r := hold(acme, "case-1", true); r.Held != len(own[acme])+2 {
		t.Errorf("A on: %+v, want %d objects held", r, len(own[acme])+2)
	}
	want("A on", own[acme], shared)
	hold(globex, "case-2", true)
	want("A on, B on", own[acme], own[globex], shared)
	if r := hold(acme, "case-1", false); r.Released != len(own[acme]) || r.Kept != 2 {
		t.Errorf("A off: %+v, want A's %d released, the 2 shared kept", r, len(own[acme]))
	}
	want("A on, B on, A off", own[globex], shared)
	hold(globex, "case-2", false)
	want("both off", nil)

	// Two matters of one organization.
	hold(acme, "case-1", true)
	hold(acme, "case-3", true)
	hold(acme, "case-1", false)
	want("A's case-3 still on", own[acme], shared)
	hold(acme, "case-3", false)
	want("A's matters all off", nil)

	_, err = lg.Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: "case-9", From: sampleDay, To: sampleDay, At: h.At})
	if !errors.Is(err, ledger.ErrNoSuchHold) {
		t.Errorf("lifting a matter never held: %v, want ErrNoSuchHold", err)
	}
	for _, bad := range []string{"", "a/b", "..", ".x", "case 1", strings.Repeat("x", 101)} {
		if _, err := lg.Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: bad, From: sampleDay, To: sampleDay, On: true, At: h.At}); err == nil {
			t.Errorf("matter %q accepted", bad)
		}
	}

	events, err := lg.HoldEvents(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 8 || events[0].Org != acme || !events[0].On || events[2].Org != acme || events[2].On {
		t.Errorf("events: %+v", events)
	}
	if active := archiver.ActiveHolds(events); len(active) != 0 {
		t.Errorf("active holds after every off: %+v", active)
	}
	hold(globex, "case-2", true)
	events, _ = lg.HoldEvents(context.Background(), globex)
	if active := archiver.ActiveHolds(events); len(active) != 1 || active[0].Matter != "case-2" || len(active[0].Days) != 1 {
		t.Errorf("active holds of globex: %+v", active)
	}
	reliability.Record(t, "security", "legal hold lifted by one organization on a day another still holds", reliability.Kept,
		"the shared quarantine and accounting objects stay held until the last (organization, matter) hold is lifted")
}

// TestHoldBeforeSeal places a hold on a day not sealed yet: the seal puts the legal hold
// on what it stores for the held organization and on the day's shared objects, not on
// another organization's.
func TestHoldBeforeSeal(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	lg := ledger.Ledger{Store: ls}
	r, err := lg.Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: "case-1", From: sampleDay, To: sampleDay.Next(), On: true,
		At: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)})
	if err != nil || r.Held != 0 {
		t.Fatalf("hold before the seal: %+v %v", r, err)
	}
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	whole(res)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range res.Orgs {
		if o.Org == acme {
			want = append(want, "orgs/"+acme+"/days/"+sampleDay.String()+"/r0001.json", "orgs/"+acme+"/manifests/000000000001.json", o.Data.Key, o.ChatIndex.Key)
			if o.Quarantined != nil {
				want = append(want, o.Quarantined.Key) // its own quarantined lines are its own objects
			}
		}
	}
	want = append(want, res.Quarantine.Key, res.Accounting)
	slices.Sort(want)
	if got := ls.HeldKeys(); !slices.Equal(got, want) {
		t.Errorf("held after the seal\n%q\nwant\n%q", got, want)
	}
	reliability.Record(t, "security", "legal hold placed on a day before it is sealed", reliability.Kept,
		"the seal places the hold on the held organization's objects and the day's shared ones")
}
