package archiver_test

import (
	"context"
	"crypto/sha256"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// interleavingStore is a storetest.LockingStore that runs between once, the first time a key with
// the prefix at is created, just before that Create: another command that interleaves
// with the one creating the key, at the worst moment.
type interleavingStore struct {
	*storetest.LockingStore
	at      string
	between func()
	once    sync.Once
}

func (s *interleavingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, s.at) {
		s.once.Do(s.between)
	}
	return s.LockingStore.Create(ctx, key, body, size, sum, opt)
}

// TestHoldRacingHold runs two `hold` commands at once: one lifts matter case-1 while the
// other places matter case-2 on the same organization and day. The lift read the hold
// events before the other recorded its own, and sets the legal holds after it: the
// objects must stay held, because case-2 holds them.
func TestHoldRacingHold(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	whole(res)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	req := func(matter string, on bool, at time.Time) ledger.HoldRequest {
		return ledger.HoldRequest{Org: acme, Matter: matter, From: sampleDay, To: sampleDay, On: on, At: at, By: "test"}
	}
	if _, err := (ledger.Ledger{Store: ls}).Hold(context.Background(), req("case-1", true, at)); err != nil {
		t.Fatal(err)
	}
	is := &interleavingStore{LockingStore: ls, at: archiver.HoldsPrefix + acme + "/case-1/"}
	is.between = func() {
		if _, err := (ledger.Ledger{Store: ls}).Hold(context.Background(), req("case-2", true, at.Add(time.Minute))); err != nil {
			t.Error(err)
		}
	}
	if _, err := (ledger.Ledger{Store: is}).Hold(context.Background(), req("case-1", false, at.Add(2*time.Minute))); err != nil {
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
		t.Fatalf("held after case-1 lifted while case-2 was placed\n%q\nwant\n%q", got, want)
	}
	reliability.Record(t, "security", "two hold commands at once: one lifts a matter while another places one on the same day", reliability.Kept,
		"the lift reads the hold events again after recording its own and after setting the legal holds, so it never releases what the other placed")
}

// TestHoldRacingSeal places a hold while the same day is sealed: the hold listed the
// day's objects before the seal committed them, and the seal read the hold events before
// the hold recorded its own. The new objects must still be held.
func TestHoldRacingSeal(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	var res *archiver.DayResult
	is := &interleavingStore{LockingStore: ls, at: archiver.HoldsPrefix + acme + "/"}
	is.between = func() {
		s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
		whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
		r, err := s.Seal(context.Background(), sampleDay, f.directory, "")
		whole(r)
		if err != nil {
			t.Error(err)
		}
		res = r
	}
	if _, err := (ledger.Ledger{Store: is}).Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: "case-1",
		From: sampleDay, To: sampleDay, On: true, At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if res == nil {
		t.Fatal("the seal did not run")
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
		t.Fatalf("held after a hold raced a seal of the day\n%q\nwant\n%q", got, want)
	}
	reliability.Record(t, "security", "hold placed while a run seals the same day", reliability.Kept,
		"the hold lists the day's objects after recording its event and the seal reads the events after committing, so one of them always places the hold")
}

// TestHoldAfterSkewedLift: an operator on a host whose clock runs ten minutes ahead lifts
// a matter; another, on a host with the right clock, places it again five minutes later.
// Events replay in their recorded time, so the placing must be recorded after the lift it
// followed, whatever its host's clock says: the objects end up held.
func TestHoldAfterSkewedLift(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	lg := ledger.Ledger{Store: ls}
	noon := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		on bool
		at time.Time
	}{{true, noon}, {false, noon.Add(10 * time.Minute)}, {true, noon.Add(5 * time.Minute)}} {
		if _, err := lg.Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: "case-1", From: sampleDay, To: sampleDay, On: step.on, At: step.at}); err != nil {
			t.Fatal(err)
		}
	}
	events, err := lg.HoldEvents(context.Background(), acme)
	if err != nil {
		t.Fatal(err)
	}
	if active := archiver.ActiveHolds(events); len(active) != 1 {
		t.Fatalf("holds in force after on, off, on: %+v", active)
	}
	if held := ls.HeldKeys(); len(held) == 0 {
		t.Fatal("nothing held after the matter was placed again")
	}
	reliability.Record(t, "security", "hold placed from a host whose clock is behind the one that lifted it", reliability.Kept,
		"a hold event is recorded after every event its command read, so the replay order is the order the operators acted in")
}

// TestHoldEventOfUnsealedDaysLocked: a hold placed on days not sealed yet covers no
// object, but its event is what makes the seal place the hold later: it must be locked,
// as long as the organization keeps its days (from the last of them), or whoever may delete
// unlocked objects lifts the hold without a trace.
func TestHoldEventOfUnsealedDaysLocked(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := storetest.NewLockingStore(f.store)
	s := &archiver.Sealer{Source: f.src, Store: ls, Chain: ledger.Ledger{Store: ls}, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	from := sampleDay.Next().Next()
	to := from.Next()
	r, err := (ledger.Ledger{Store: ls}).Hold(context.Background(), ledger.HoldRequest{Org: acme, Matter: "case-1", From: from, To: to, On: true,
		At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil || r.Held != 0 {
		t.Fatalf("hold of unsealed days: %+v %v", r, err)
	}
	lock, err := ls.Lock(context.Background(), r.Event)
	if err != nil {
		t.Fatal(err)
	}
	if want := to.End().AddDate(0, 0, 2557); lock.Mode != archiver.ModeCompliance || lock.RetainUntil.Before(want) {
		t.Fatalf("hold event %s locked %+v, want COMPLIANCE until at least %s", r.Event, lock, want)
	}
	reliability.Record(t, "security", "hold placed on days not sealed yet, on a locking store", reliability.Kept,
		"its event is locked until the last held day's end plus the organization's retention (from its chain), so it cannot be deleted before the seal places the hold")
}
