package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLeaseOfAHolderKilledWhileItsClockRanAhead: replica A's clock stepped a year ahead
// (a bad NTP source, an RTC wrong at boot) while it held the seal lease, and A was killed
// before its clock came back: its last link expires a year after the others' time. B, on
// the right clock, refused it on every tick, naming the clocks, until that date: no seal
// for a year, though the clocks were synchronized. B now watches the link: a live holder
// renews every third of the TTL whatever its clock, so one left unrenewed for the TTL and
// twice the skew, on B's clock, is a dead holder's, and B takes it over. A renewal
// restarts the watch (A alive and still ahead is not taken over), and A, were it only
// paused, finds the lease lost at its next fence.
func TestLeaseOfAHolderKilledWhileItsClockRanAhead(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	const ttl = 2 * time.Minute
	window := ttl + 2*DefaultMaxSkew
	s := newLeaseStore(t)
	aClock, bClock := NewFakeClock(t0.AddDate(1, 0, 0)), NewFakeClock(t0)
	a := &Lease{Store: s, Holder: "serve-a", TTL: ttl, Clock: aClock}
	b := &Lease{Store: &storeHandle{s}, Holder: "serve-b", TTL: ttl, Clock: bClock}
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	refused := func(when string) {
		t.Helper()
		if err := b.Acquire(ctx); !errors.Is(err, ErrClockSkew) || !errors.Is(err, ErrLeaseHeld) {
			t.Fatalf("%s: Acquire = %v, want ErrClockSkew and ErrLeaseHeld (not taken)", when, err)
		}
	}
	refused("first sight of the link a year ahead")
	bClock.Add(window - time.Second)
	refused("just short of the TTL and twice the skew")

	// A is alive and renews (still a year ahead): the watch starts again.
	aClock.Add(ttl / 3)
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	bClock.Add(2 * time.Second)
	refused("after A's renewal")
	bClock.Add(window - time.Second)
	refused("A's renewal watched for less than the window")

	// A stops renewing (killed, or paused): past the window B takes the lease over.
	bClock.Add(2 * time.Second)
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("Acquire of a link a year ahead left unrenewed for %s = %v, want it taken over", window+time.Second, err)
	}
	if err := b.Fence(ctx); err != nil {
		t.Fatalf("B's fence after the takeover: %v", err)
	}
	aClock.Add(window) // A, only paused, resumes: as long has passed for it
	if err := a.Fence(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("A's fence after B took over = %v, want ErrLeaseLost", err)
	}
	reliability.Record(t, "fault", "a serve replica killed while its clock ran a year ahead, holding the seal lease (its last link expires a year after the others' time)",
		reliability.Recovered,
		"the others watch the link: left unrenewed for the lease's TTL and twice schedule.leaseMaxSkew on their clock, it is taken over and the seal goes on; a renewal restarts the watch, and the old holder, were it only paused, finds the lease lost at its fence; "+
			"before, every tick refused it naming the clocks until that date came, a year without a seal")
}
