package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// skewedStore is a process's connection to the store whose answers show the store's
// clock skew from the process's (as the S3 store's Date headers do).
type skewedStore struct {
	archiver.Store
	skew time.Duration
}

func (s skewedStore) ClockSkew() (time.Duration, bool) { return s.skew, true }

// TestLeaseRefusesAHostOffTheStoreClock gives a replica a clock far off the holder's and
// the store's. The S3 SDK corrects its signatures for such a host, so nothing else stops
// it. Before, a replica 3 minutes ahead took the live holder's lease (two sealers at once:
// what the lease is for), and one 5 minutes behind took a free lease with a link already
// expired for everyone else. Now a host whose clock is more than MaxSkew/2 off the store's
// creates no link: Acquire fails with ErrClockSkew, and the holder keeps its lease.
func TestLeaseRefusesAHostOffTheStoreClock(t *testing.T) {
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		off     time.Duration // the replica's clock minus the store's (and the holder's)
		live    error         // Acquire's error while the holder's lease is live
		refused bool          // whether a free lease is refused too
	}{
		{"ahead by the TTL and the skew", 2*time.Minute + DefaultMaxSkew + time.Second, ErrClockSkew, true},
		{"behind by 5 minutes", -5 * time.Minute, ErrLeaseHeld, true},
		{"ahead within half the skew", DefaultMaxSkew/2 - time.Second, ErrLeaseHeld, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLeaseStore(t)
			a := &Lease{Store: skewedStore{s, 0}, Holder: "host-a", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
			if err := a.Acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			b := &Lease{Store: skewedStore{&storeHandle{s}, -tc.off}, Holder: "host-b", TTL: 2 * time.Minute, Clock: NewFakeClock(t0.Add(tc.off))}
			err := b.Acquire(t.Context())
			if !errors.Is(err, tc.live) {
				t.Fatalf("Acquire of the live lease by a replica %v off = %v; want %v", tc.off, err, tc.live)
			}
			if err := a.Fence(t.Context()); err != nil {
				t.Fatalf("the holder's fence after the replica's attempt: %v", err)
			}
			// A free lease (a store without links): a skewed replica does not take it
			// either, since its link's expiry is wrong for everyone else.
			c := &Lease{Store: skewedStore{newLeaseStore(t), -tc.off}, Holder: "host-c", TTL: 2 * time.Minute, Clock: NewFakeClock(t0.Add(tc.off))}
			err = c.Acquire(t.Context())
			if tc.refused != errors.Is(err, ErrClockSkew) || !tc.refused && err != nil {
				t.Fatalf("Acquire of a free lease by a replica %v off = %v; refused want %v", tc.off, err, tc.refused)
			}
		})
	}
	reliability.Record(t, "fault", "a replica's clock minutes off the store's (S3's SDK corrects its signatures, so S3 works)", reliability.Refused,
		"it creates no lease link (ErrClockSkew, naming the skew): it neither takes a live holder's lease nor writes links already expired for the others; the holder keeps its lease")
}
