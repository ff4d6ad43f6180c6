package archiver_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLayout3PausedSealerFenced: sealer A holds the seal lease and seals 2026-11-24; it is
// paused (GC, SIGSTOP, frozen VM) just before Acme's commit, past the lease's TTL.
// Sealer B takes the lease over, seals 2026-11-23 on the same head and releases. A
// resumes. Without a fence (before) A commits on the head it read: a second manifest
// with B's seq, a fork the post-commit check can only report. With the lease's fence
// (archiver.WithFence, scheduler.Lease.Fence) A finds the lease lost and commits nothing.
func TestLayout3PausedSealerFenced(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		name := map[bool]string{false: "without the fence", true: "fenced"}[fenced]
		t.Run(name, func(t *testing.T) {
			logDir := layout3Log(t)
			f := newFixture(t, logDir)
			ctx := context.Background()
			mustSeal3(t, f, f.store, "2026-11-22")
			t0 := time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)
			clkA := scheduler.NewFakeClock(t0)
			storeA := &storeHandle{f.store}
			leaseA := &scheduler.Lease{Store: storeA, Holder: "host-a", TTL: 2 * time.Minute, Clock: clkA}
			if err := leaseA.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			paused, resumed := make(chan struct{}), make(chan struct{})
			first := true
			fence := func(ctx context.Context) (archiver.CommitDeadline, error) {
				if first { // A pauses here, before its commit
					first = false
					close(paused)
					<-resumed
				}
				if !fenced {
					return archiver.CommitDeadline{}, nil
				}
				return leaseA.CommitFence(ctx)
			}
			var resA *archiver.DayResult
			done := make(chan struct{})
			go func() {
				defer close(done)
				s := &archiver.Sealer{Source: f.src, Store: storeA, Chain: ledger.Ledger{Store: storeA}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
				resA, _ = s.Seal(archiver.WithFence(ctx, fence), mustDay("2026-11-24"), f.directory, acmeOrg)
			}()
			select {
			case <-paused:
			case <-done:
				t.Fatalf("A ended before its commit: %+v", resA)
			}
			clkA.Add(10 * time.Minute) // A's pause, on its own clock too
			leaseB := &scheduler.Lease{Store: f.store, Holder: "host-b", TTL: 2 * time.Minute, Clock: scheduler.NewFakeClock(t0.Add(10 * time.Minute))}
			if err := leaseB.Acquire(ctx); err != nil {
				t.Fatalf("B's takeover: %v", err)
			}
			resB := sealWith(t, f, f.store, "2026-11-23", archiver.Options{Layout: archiver.Layout3})
			for _, o := range resB.Failed() {
				t.Fatalf("B: org %s failed: %v", o.Org, o.Err)
			}
			if err := leaseB.Release(ctx); err != nil {
				t.Fatal(err)
			}
			close(resumed)
			<-done
			var a archiver.OrgResult
			for _, o := range resA.Orgs {
				if o.Org == acmeOrg {
					a = o
				}
			}
			if !fenced {
				// The baseline: A commits on the stale head and forks the chain.
				if !errors.Is(a.Err, archiver.ErrForked) {
					t.Fatalf("A without a fence: %+v; want the fork its stale commit makes", a)
				}
				return
			}
			if !errors.Is(a.Err, archiver.ErrFenced) || !errors.Is(a.Err, scheduler.ErrLeaseLost) {
				t.Fatalf("fenced A: %+v; want its commit refused (ErrFenced, ErrLeaseLost)", a)
			}
			// Nothing: no manifest, and no failure record either (the day is the new
			// holder's to seal or to fail).
			if keys := listKeys(t, f.store, archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24"))); len(keys) != 0 {
				t.Fatalf("fenced A wrote %v", keys)
			}
		})
	}
	reliability.Record(t, "crash", "seal lease holder paused past its TTL mid-seal; another sealer took over and sealed on the same head", reliability.Refused,
		"the resumed sealer's next commit checks its lease (Fence): it was taken, so the organization fails and nothing is written on the stale head; only a commit already past the check can slip through, which the post-commit fork check reports")
}

// pauseAtCommit is a sealer's store that pauses the process (moves its clock by d) just
// before the first commit point's create (a manifest at its day key) reaches the store.
type pauseAtCommit struct {
	archiver.Store
	clk    *scheduler.FakeClock
	d      time.Duration
	paused bool
}

func (p *pauseAtCommit) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if !p.paused && strings.Contains(key, "/d/") && strings.HasSuffix(key, ".json") {
		p.paused = true
		p.clk.Add(p.d)
	}
	return p.Store.Create(ctx, key, body, size, sum, opt)
}

// TestLayout3PauseAfterTheFence: sealer A's fence passes for Acme's commit with the whole
// TTL left, and A is paused after it (GC, SIGSTOP), as the commit point's create starts,
// past the lease's commit deadline (its expiry less a sixth of the TTL) on its clock. The
// fence cannot see that pause; before, the create went ahead after it, when the lease may
// have passed to another sealer. Now the folder store checks the commit deadline on the
// lease's clock before it creates (as the S3 client does before each attempt): the
// organization fails fenced, nothing is written, and the next seal, its fence renewing the
// lease, commits it.
func TestLayout3PauseAfterTheFence(t *testing.T) {
	const ttl = 2 * time.Minute
	logDir := layout3Log(t)
	f := newFixture(t, logDir)
	ctx := context.Background()
	mustSeal3(t, f, f.store, "2026-11-22")
	clk := scheduler.NewFakeClock(time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC))
	lease := &scheduler.Lease{Store: f.store, Holder: "host-a", TTL: ttl, Clock: clk}
	if err := lease.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	store := &pauseAtCommit{Store: f.store, clk: clk, d: ttl - ttl/6}
	seal := func() archiver.OrgResult {
		s := &archiver.Sealer{Source: f.src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
		res, _ := s.Seal(archiver.WithFence(ctx, lease.CommitFence), mustDay("2026-11-24"), f.directory, acmeOrg)
		for _, o := range res.Orgs {
			if o.Org == acmeOrg {
				return o
			}
		}
		t.Fatalf("no result for %s: %+v", acmeOrg, res)
		return archiver.OrgResult{}
	}
	a := seal()
	if !errors.Is(a.Err, archiver.ErrFenced) || !errors.Is(a.Err, archiver.ErrCommitDeadline) {
		t.Fatalf("A after a pause past its commit deadline: %+v; want its commit refused (ErrFenced, ErrCommitDeadline)", a)
	}
	if keys := listKeys(t, f.store, archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24"))); len(keys) != 0 {
		t.Fatalf("A wrote %v past its commit deadline", keys)
	}
	// A's next fence renews the lease (less than a third of the TTL was left): it commits.
	if again := seal(); again.Err != nil || again.Outcome != archiver.OutcomeCommitted {
		t.Fatalf("the seal after the pause: %+v; want Acme committed", again)
	}
	reliability.Record(t, "crash", "seal lease holder paused as the commit point's create starts, after its lease check (the fence), past the lease's commit deadline", reliability.Refused,
		"the store checks the commit deadline on the lease's clock before it creates (the folder store; the S3 client before each attempt): the organization fails fenced, nothing is written, and the next seal, renewing the lease, commits it")
}
