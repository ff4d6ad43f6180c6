package scheduler

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// pausingStore stops its process at the first Create once armed (a GC pause, SIGSTOP or
// frozen VM at that request) until resumed: the test runs other replicas meanwhile.
type pausingStore struct {
	archiver.Store
	armed   bool
	paused  chan struct{}
	resumed chan struct{}
}

func newPausingStore(s archiver.Store) *pausingStore {
	return &pausingStore{Store: s, paused: make(chan struct{}), resumed: make(chan struct{})}
}

func (p *pausingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if p.armed {
		p.armed = false
		close(p.paused)
		<-p.resumed
	}
	return p.Store.Create(ctx, key, body, size, sum, opt)
}

func newLeaseStore(t *testing.T) archiver.Store {
	t.Helper()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLeasePausedAcrossPrunedEpochs: a replica reads the last link, then is paused before
// it creates the next; meanwhile another takes the lease and renews it through epochs,
// and the janitor prunes the epoch of the link the paused one is about to create. Its
// create then succeeds (the key is free again): before, it believed it held the lease
// alongside the holder (a lease fork, two sealers); now the later links show it lost.
func TestLeasePausedAcrossPrunedEpochs(t *testing.T) {
	defer func(n int64) { leaseEpochSize = n }(leaseEpochSize)
	leaseEpochSize = 2
	s := newLeaseStore(t)
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	old := &Lease{Store: s, Holder: "host-old", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
	if err := old.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour) // the old holder's link has long expired
	pa := newPausingStore(s)
	pa.armed = true
	a := &Lease{Store: pa, Holder: "host-a", TTL: 2 * time.Minute, Clock: NewFakeClock(now)}
	clkB := NewFakeClock(now)
	b := &Lease{Store: &storeHandle{s}, Holder: "host-b", TTL: 2 * time.Minute, Clock: clkB}
	errA := make(chan error, 1)
	go func() { errA <- a.Acquire(t.Context()) }()
	<-pa.paused   // A read link 1 and is about to create link 2
	for range 8 { // B takes link 2 and renews through link 9 (epoch 4)
		if err := b.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		clkB.Add(40 * time.Second)
	}
	janitor := &Lease{Store: s, Holder: "host-b", TTL: 2 * time.Minute, Clock: clkB}
	if n, err := janitor.Prune(t.Context()); err != nil || n == 0 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	close(pa.resumed)
	err := <-errA
	if !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("the paused replica's Acquire = %v after the chain moved on past a pruned epoch; want ErrLeaseHeld (it re-created a pruned link and believes it holds the lease)", err)
	}
	if err := b.Acquire(t.Context()); err != nil {
		t.Fatalf("the holder's renewal after the stale link: %v", err)
	}
	// A's hint (the link it read, in a pruned epoch) still leads it to the current link:
	// it lists past the hint.
	if holder, held, err := a.HeldByAnother(t.Context()); err != nil || !held || holder != "host-b" {
		t.Fatalf("the paused replica's next look, from its hint into a pruned epoch: %q %v %v; want host-b's link", holder, held, err)
	}
	if err := a.Acquire(t.Context()); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("the paused replica's next try: %v; want ErrLeaseHeld", err)
	}
	// So does a process that remembers nothing, and the stale link is pruned again.
	fresh := &Lease{Store: &storeHandle{s}, Holder: "host-c", TTL: 2 * time.Minute, Clock: clkB}
	if holder, held, err := fresh.HeldByAnother(t.Context()); err != nil || !held || holder != "host-b" {
		t.Fatalf("a new process's look: %q %v %v; want host-b's link", holder, held, err)
	}
	if _, err := janitor.Prune(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, k := range listAllKeys(t, s, "leases/scheduler/") {
		if strings.HasSuffix(k, "/000000000002.json") {
			t.Fatalf("the stale link %s survived the next prune", k)
		}
	}
	reliability.Record(t, "crash", "replica paused between reading the lease and creating its next link while the janitor pruned that link's epoch", reliability.Refused,
		"its create succeeds on the pruned key, but the chain's later links show it lost: it does not take the lease; the holder renews")
}

// TestLeasePausedHolderDoesNotRetake: the holder is paused past its TTL; another replica
// takes the lease over, seals and releases it. Before, the resumed holder's next renewal
// took the released lease again and its seal went on on the heads it had read before the
// pause; now the renewal finds a link after its own and fails (ErrLeaseLost).
func TestLeasePausedHolderDoesNotRetake(t *testing.T) {
	s := newLeaseStore(t)
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	clkA := NewFakeClock(t0)
	a := &Lease{Store: s, Holder: "host-a", TTL: 2 * time.Minute, Clock: clkA}
	if err := a.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	clkA.Add(10 * time.Minute) // paused
	b := &Lease{Store: &storeHandle{s}, Holder: "host-b", TTL: 2 * time.Minute, Clock: NewFakeClock(t0.Add(10 * time.Minute))}
	if err := b.Acquire(t.Context()); err != nil {
		t.Fatalf("takeover of the paused holder's expired lease: %v", err)
	}
	if err := b.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := a.Acquire(t.Context()) // the resumed holder's renewal
	if !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("the resumed holder's renewal = %v; want it refused: another holder took the lease since", err)
	}
	reliability.Record(t, "crash", "seal lease holder paused past its TTL; another replica took over, sealed and released", reliability.Refused,
		"the resumed holder's renewal finds a link after its own and fails: it does not take the released lease back")
}

// TestLeaseTakeoverClockSkew: a replica whose clock runs ahead of the holder's sees the
// holder's link expire early. A takeover needs the link expired by MaxSkew (default
// DefaultMaxSkew) on the taker's clock.
func TestLeaseTakeoverClockSkew(t *testing.T) {
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ahead time.Duration // the taker's clock, past the holder's link's expiry
		held  bool
	}{
		{"a second past the expiry", time.Second, true},
		{"within the default skew", DefaultMaxSkew - time.Second, true},
		{"past the expiry and the skew", DefaultMaxSkew + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLeaseStore(t)
			a := &Lease{Store: s, Holder: "host-a", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
			if err := a.Acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			b := &Lease{Store: &storeHandle{s}, Holder: "host-b", TTL: 2 * time.Minute, Clock: NewFakeClock(t0.Add(2*time.Minute + tc.ahead))}
			holder, held, herr := b.HeldByAnother(t.Context())
			if herr != nil || held != tc.held || held && holder != "host-a" {
				t.Fatalf("HeldByAnother (what the scheduler and shards read) = %q, %v, %v; want held %v", holder, held, herr, tc.held)
			}
			err := b.Acquire(t.Context())
			if tc.held && !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("Acquire by a replica whose clock reads %v past the holder's expiry = %v; want ErrLeaseHeld", tc.ahead, err)
			}
			if !tc.held && err != nil {
				t.Fatalf("Acquire %v past the expiry: %v", tc.ahead, err)
			}
		})
	}
	reliability.Record(t, "operations", "replica clocks apart (the taker's ahead of the holder's)", reliability.Kept,
		"a takeover needs the holder's link expired by the maximum skew (default one minute) on the taker's clock")
}

// storeHandle is another process's connection to the same store (its own lease hints).
type storeHandle struct{ archiver.Store }
