package scheduler

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTickWaitsForShardRuns: while a sharded run (`run --shard i/n`, which takes a lease
// of its own shard, leases/shards/<n>/<i>/) holds its lease, the scheduler's tick seals
// nothing, even with the store's seal lease taken: in layout 3 two writers of one
// organization's chain that read the same head would both commit (a fork), and the
// scheduler seals every organization, the shard's too. It gives its own lease back, and
// seals once the shard's lease is released or has run out.
func TestTickWaitsForShardRuns(t *testing.T) {
	first := day("2026-11-01")
	clk := NewFakeClock(first.Start().AddDate(0, 0, 3).Add(30 * time.Minute))
	s, store, _ := realSetup(t, clk, first, 3)
	s.Lease = &Lease{Store: store, Holder: "serve-1", TTL: time.Minute, Clock: clk}
	shard := &Lease{Store: store, Prefix: "leases/shards/2/1/", Holder: "host-run42-ab", TTL: 10 * time.Minute, Clock: clk}
	if err := shard.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A shard lease of another count, released long ago, holds nothing.
	old := []byte(`{"seq":1,"holder":"gone","expires":"2026-01-01T00:00:00Z"}`)
	if err := store.Create(t.Context(), "leases/shards/4/0/000000000001.json", bytes.NewReader(old), int64(len(old)), sha256.Sum256(old), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := s.Tick(t.Context())
	if len(rep.Sealed) != 0 || !errors.Is(rep.Err, ErrLeaseHeld) {
		t.Fatalf("tick while a shard runs: sealed %q, err %v; want nothing sealed, ErrLeaseHeld", rep.Sealed, rep.Err)
	}
	if last, err := s.Lease.last(t.Context()); err != nil || last == nil || last.Holder != "serve-1" || clk.Now().Before(last.Expires) {
		t.Fatalf("the scheduler's lease after backing off: %+v %v; want it released", last, err)
	}
	if err := shard.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rep := s.Tick(t.Context()); len(rep.Sealed) != 3 || rep.Err != nil {
		t.Fatalf("tick after the shard's run: sealed %q, err %v; want the 3 days", rep.Sealed, rep.Err)
	}
	reliability.Record(t, "operations", "scheduler tick while a sharded run holds its shard's lease", reliability.Kept,
		"the tick seals nothing and gives its own lease back (two writers of one chain would fork it in layout 3); it seals once the shard's lease is released or runs out")
}
