package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLeaseAfterTheClockWentBack: on a folder store nothing compares a host's clock with
// another's (the S3 store checks it against S3's Date headers). A host whose clock went
// back four days (a VM restored from a snapshot, an RTC reset, a bad NTP server) after
// a run had sealed and released the store lease read the release link, whose expiry is
// the release time, as a live lease until its clock caught up: every `run` failed for four
// days with "another sealer is running … try again when it is done", and serve skipped
// every tick as "lease held", though no one held it. A released link is free whatever
// the clocks. A link that is not released and expires further ahead than any link is
// written for (the TTL and the skew) cannot be a holder's on a sane clock: Acquire fails
// naming the clocks (ErrClockSkew), not a holder that does not exist, and still does not
// take it (its holder may be alive on a clock that is ahead).
func TestLeaseAfterTheClockWentBack(t *testing.T) {
	t0 := time.Date(2027, 3, 5, 3, 0, 0, 0, time.UTC)
	back := t0.AddDate(0, 0, -4)

	// A run sealed and released the lease; the next run's clock is four days behind.
	s := newLeaseStore(t)
	a := &Lease{Store: s, Holder: "run-a", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
	if err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := &Lease{Store: &storeHandle{s}, Holder: "run-b", TTL: 2 * time.Minute, Clock: NewFakeClock(back)}
	if err := b.Acquire(t.Context()); err != nil {
		t.Fatalf("Acquire of a released lease by a host whose clock went back 4 days = %v; want it taken (no one holds it)", err)
	}

	// A holder that did not release (killed, or a replica whose clock is ahead renewing):
	// its link expires four days after this host's now.
	s2 := newLeaseStore(t)
	c := &Lease{Store: s2, Holder: "serve-c", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
	if err := c.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := &Lease{Store: &storeHandle{s2}, Holder: "run-d", TTL: 2 * time.Minute, Clock: NewFakeClock(back)}
	err := d.Acquire(t.Context())
	if !errors.Is(err, ErrClockSkew) || !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "serve-c") || !strings.Contains(err.Error(), "96h") {
		t.Fatalf("Acquire of a link expiring 4 days ahead = %v; want ErrClockSkew (and ErrLeaseHeld) naming the holder and how far ahead its link expires", err)
	}
	if err := c.Fence(t.Context()); err != nil {
		t.Fatalf("the holder's fence after the skewed attempt: %v", err)
	}
	// Within the TTL and the skew, a live holder is just a live holder.
	e := &Lease{Store: &storeHandle{s2}, Holder: "run-e", TTL: 2 * time.Minute, Clock: NewFakeClock(t0.Add(-30 * time.Second))}
	if err := e.Acquire(t.Context()); !errors.Is(err, ErrLeaseHeld) || errors.Is(err, ErrClockSkew) {
		t.Fatalf("Acquire of a live lease by a host 30s behind = %v; want ErrLeaseHeld", err)
	}
	reliability.Record(t, "fault", "a host's clock goes back 4 days between runs on a folder store (a VM restored, an RTC reset)", reliability.Recovered,
		"a released lease is free whatever the clocks, so the run seals; a link not released expiring further ahead than TTL+skew fails naming the clocks (ErrClockSkew), not taken; before, every run for 4 days said another sealer was running")
}
