package scheduler

import (
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// leaseWithLinks returns a folder store whose seal lease has n links (a holder that
// took it and renewed it n-1 times).
func leaseWithLinks(t *testing.T, n int) archiver.Store {
	t.Helper()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clk := NewFakeClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	l := &Lease{Store: s, Holder: "host-a", TTL: time.Minute, Clock: clk}
	for range n {
		if err := l.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.Add(20 * time.Second)
	}
	return s
}

// acquireCost counts what another process's first Acquire of the lease costs (a new
// Counting store: nothing remembered), and then its renewal.
func acquireCost(t *testing.T, s archiver.Store) (first, renew storetest.Counts) {
	t.Helper()
	c := storetest.NewCounting(s)
	clk := NewFakeClock(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)) // the links have expired
	l := &Lease{Store: c, Holder: "host-b", TTL: time.Minute, Clock: clk}
	if err := l.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	first = c.Reset()
	clk.Add(20 * time.Second)
	if err := l.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	return first, c.Reset()
}

// TestLeaseLookupBounded: taking the seal lease lists what its key layout bounds, not
// every link the lease ever had (a link at every tick and every renewal, for as long as
// the store lives): the same requests and, once the janitor has pruned, the same keys
// listed and at most three epochs of links stored, with 30 or 300 links behind it.
func TestLeaseLookupBounded(t *testing.T) {
	defer func(n int64) { leaseEpochSize = n }(leaseEpochSize)
	leaseEpochSize = 10 // stands for 1,000
	var firsts, renews, pruned []storetest.Counts
	var stored []int
	for _, n := range []int{30, 300} {
		s := leaseWithLinks(t, n)
		first, renew := acquireCost(t, s)
		t.Logf("%d links: first Acquire of a new process %v, its renewal %v", n, first, renew)
		l := &Lease{Store: s, Holder: "host-c", TTL: time.Minute, Clock: NewFakeClock(time.Date(2027, 6, 2, 0, 0, 0, 0, time.UTC))}
		deleted, err := l.Prune(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		keys := len(listAllKeys(t, s, "leases/scheduler/"))
		first, _ = acquireCost(t, s)
		t.Logf("%d links: Prune deleted %d, %d stored; first Acquire then %v", n, deleted, keys, first)
		firsts, renews, pruned, stored = append(firsts, first), append(renews, renew), append(pruned, first), append(stored, keys)
	}
	if firsts[0].Requests() != firsts[1].Requests() || renews[0].Requests() != renews[1].Requests() || renews[0]["Keys"] != renews[1]["Keys"] {
		t.Errorf("Acquire's requests grow with the lease's links: %v and %v, renewals %v and %v", firsts[0], firsts[1], renews[0], renews[1])
	}
	if pruned[0]["Keys"] != pruned[1]["Keys"] || pruned[0]["Folders"] != pruned[1]["Folders"] {
		t.Errorf("after pruning, Acquire lists %v and %v; want the same keys and folders", pruned[0], pruned[1])
	}
	// A renewal is a listing after the last link, its read, the create and a listing after
	// the link created (the check against a pruned link re-created, lease_fence.go).
	if renews[1].Requests() > 4 || firsts[1].Requests() > 5 {
		t.Errorf("Acquire: %v, renewal %v; want at most 5 and 4 requests", firsts[1], renews[1])
	}
	for _, n := range stored {
		if n > 3*int(leaseEpochSize) {
			t.Errorf("%d links stored after pruning; want at most 3 epochs (%d)", n, 3*leaseEpochSize)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "seal lease: lookups and stored links as its history grows", reliability.Kept,
		"links are grouped in epochs of 1,000 seqs: a new process lists the epochs' names and the last epoch, a renewal only the links after the one it knows (the same requests with 30 or 300 links; the whole chain was listed before); the janitor deletes the epochs before the last two where the store allows")
}

func listAllKeys(t *testing.T, s archiver.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := s.List(t.Context(), prefix, func(k string) error { out = append(out, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
