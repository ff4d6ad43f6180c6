package s3_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLeasePruned: on S3, with and without Object Lock (lease links carry no retention
// date), the janitor's Prune deletes every version of the links of the lease's epochs
// before its last two, and the lease still works after it; keys outside the tasks, the
// leases and the watermarks are still refused.
func TestLeasePruned(t *testing.T) {
	srv := miniotest.Start(t)
	for _, lock := range []bool{false, true} {
		s := newStore(t, srv, lock, "archive")
		clk := scheduler.NewFakeClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		// Links of three epochs of 1,000 seqs, sparse (a lookup reads only the last, the
		// janitor deletes by epoch), the last one host-a's and unexpired.
		seqs := []int64{1, 500, 999, 1000, 1500, 1999, 2000, 2104}
		for _, seq := range seqs {
			b := []byte(fmt.Sprintf(`{"seq":%d,"holder":"host-a","expires":%q}`, seq, clk.Now().Add(time.Minute).Format(time.RFC3339)))
			key := fmt.Sprintf("leases/scheduler/e/%09d/%012d.json", seq/1000, seq)
			if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		l := &scheduler.Lease{Store: s, Holder: "host-a", TTL: time.Minute, Clock: clk}
		if err := l.Acquire(t.Context()); err != nil { // seq 2105
			t.Fatal(err)
		}
		const links = 9
		n, err := l.Prune(t.Context())
		if err != nil || n != 3 {
			t.Fatalf("object lock %v: Prune deleted %d, %v; want the first epoch's 3 links", lock, n, err)
		}
		var kept int
		if err := s.List(t.Context(), "leases/scheduler/", func(string) error { kept++; return nil }); err != nil {
			t.Fatal(err)
		}
		if kept != links-n {
			t.Errorf("object lock %v: %d links kept, want %d", lock, kept, links-n)
		}
		other := &scheduler.Lease{Store: s, Holder: "host-b", TTL: time.Minute, Clock: clk}
		if err := other.Acquire(t.Context()); err == nil {
			t.Errorf("object lock %v: another holder took the lease held by host-a after pruning", lock)
		}
		if err := s.Delete(t.Context(), "orgs/x/d/2027/01/01.r0001.json"); err == nil {
			t.Errorf("object lock %v: a day key's Delete was not refused", lock)
		}
	}
	reliability.Record(t, "operations", "seal lease pruned on S3, with and without Object Lock", reliability.Kept,
		"the janitor deletes every version of the links of the epochs before the last two (lease links carry no retention date); the lease's holder still holds it, and keys outside tasks, leases and watermarks are still refused")
}
