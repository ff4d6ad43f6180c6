package archiver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
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
				s := &archiver.Sealer{Source: f.src, Store: storeA, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
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
