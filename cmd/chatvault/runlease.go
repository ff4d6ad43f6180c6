package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/panics"
)

// errSealerRunning is returned when `run --date` (or --from/--to, --supersede) cannot take
// the store's seal lease.
var errSealerRunning = errors.New("another sealer is running")

// sealLease is the store's seal lease as `run` with dates takes it: in store layout 3,
// before the first day that is ready to seal (a run that can seal nothing writes nothing),
// renewed until release. Two sealers of one organization's chain must never run at once
// in layout 3: two writers of different days that read the same head would both commit (a
// fork of the chain, which create-only no longer prevents; docs/design/layout.md). In
// layout 2 the chain's create-only keys make the second writer fail, and no lease is
// taken. A sharded run takes a lease of its shard's own (leases/shards/<n>/<i>/): the
// shards of a day run at once and own disjoint organizations. It registers that lease
// under the store's (takeShard, shardlease.go), which orders it with the scheduler's.
type sealLease struct {
	lease       *scheduler.Lease
	log         *slog.Logger
	stop, done  chan struct{}
	held, unset bool
}

func newSealLease(e *env, store archiver.Store, shard archiver.Shard) *sealLease {
	if e.cfg.StoreLayout != archiver.Layout3 {
		return &sealLease{unset: true}
	}
	l := &scheduler.Lease{Store: store, Holder: runHolderName(), TTL: sealLeaseTTL, Clock: runClockT{}, MaxSkew: e.cfg.Schedule.LeaseMaxSkew}
	if shard.Count > 1 {
		l.Prefix = fmt.Sprintf("leases/shards/%d/%d/", shard.Count, shard.Index)
	}
	return &sealLease{lease: l, log: e.log}
}

// take takes the lease, once; later calls do nothing.
func (s *sealLease) take(ctx context.Context) error {
	if s.unset || s.held {
		return nil
	}
	if s.lease.Prefix != "" {
		return s.takeShard(ctx)
	}
	// A lease another host's run holds is waited for once, while it is not renewed, as a
	// shard's is (waitUnrenewed): a Job retries a killed run in a new pod, and systemd may
	// restart it on another host, before the killed run's lease has run out.
	held := func(err error) bool {
		return errors.Is(err, scheduler.ErrLeaseHeld) && !errors.Is(err, scheduler.ErrClockSkew)
	}
	heldErr := fmt.Errorf("%w (the store's seal lease leases/scheduler/ is held: the nightly seal or another run is sealing; it runs out %s after its holder stops): try again when it is done", errSealerRunning, sealLeaseTTL)
	err := s.lease.AcquireOrTakeOver(ctx, deadRunHolder)
	if held(err) {
		if err := s.waitUnrenewed(ctx, heldErr); err != nil {
			return err
		}
		err = s.lease.AcquireOrTakeOver(ctx, deadRunHolder)
	}
	if held(err) {
		return heldErr
	}
	if err != nil {
		return err
	}
	// A sharded run registered before may be sealing now, under its shard's lease: it is
	// looked for as the scheduler looks for one, once this lease is held.
	prefix, holder, err := scheduler.ShardRunning(ctx, s.lease)
	if err == nil && prefix != "" {
		err = fmt.Errorf("%w (a sharded run holds %s: %s is sealing its shard's organizations): try again when it is done", errSealerRunning, prefix, holder)
	}
	if err != nil {
		if rerr := s.lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			s.log.Warn("seal lease release", "err", rerr)
		}
		return err
	}
	s.held = true
	s.renew(ctx)
	return nil
}

// leasePoll is how often a run waiting for a lease that is not renewed reads it.
const leasePoll = time.Second

// waitUnrenewed waits while the lease is held by a holder that does not renew it, until it
// runs out (its expiry and the clock skew): a sealer renews its lease every third of
// sealLeaseTTL, so a link that stays the last one is a killed run's, whose host this one
// cannot check (deadRunHolder). A link that another follows is a live sealer's (serve's
// scheduler, another run, two pods of one shard at once): refused with heldErr, as is a
// link that expires later than a run's renewal writes (not a run's lease, or clocks
// apart) or held by a run of this host whose process still runs (liveRunHolder), which
// are not waited for. It returns nil when the lease is free to take. Both an
// unsharded run (the store's seal lease) and a sharded one (its shard's) wait so.
func (s *sealLease) waitUnrenewed(ctx context.Context, heldErr error) error {
	first, err := s.lease.Last(ctx)
	if err != nil || !first.Held {
		return err
	}
	if first.Expires.After(s.lease.Clock.Now().Add(sealLeaseTTL+s.lease.MaxSkew)) || liveRunHolder(first.Holder) {
		return heldErr // not a run's lease; or a run of this host that still runs
	}
	s.log.Warn("the seal lease is held by another sealer; waiting for it to run out (a killed run's) or be renewed (a live sealer's: then this run stops)",
		"lease", s.prefix(), "holder", first.Holder, "expires", first.Expires)
	// The link runs out within the TTL and the skew on the lease's clock; a clock that does
	// not move (stepped back, or a test's fixed one) must not keep this run waiting for
	// ever: past that on this process's own clock, the lease is refused as held.
	skew := s.lease.MaxSkew
	if skew <= 0 {
		skew = scheduler.DefaultMaxSkew
	}
	giveUp := time.Now().Add(sealLeaseTTL + 2*skew)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.lease.Clock.After(leasePoll):
		}
		if time.Now().After(giveUp) {
			return heldErr
		}
		link, err := s.lease.Last(ctx)
		if err != nil {
			return err
		}
		if !link.Held {
			return nil
		}
		if link.Seq != first.Seq {
			return heldErr // renewed, or taken by yet another sealer: alive
		}
	}
}

// prefix is the lease's prefix as the store names it.
func (s *sealLease) prefix() string {
	if s.lease.Prefix == "" {
		return "leases/scheduler/"
	}
	return s.lease.Prefix
}

// renew renews the lease taken at a third of its TTL, on the wall clock, as the scheduler
// does, until release.
func (s *sealLease) renew(ctx context.Context) {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		// A panic (a bug) stops the renewals, logged: the lease then runs out, and the
		// seal's fence stops the run's commits.
		defer panics.Log(s.log, "seal lease renewal stopped by a bug")
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(s.lease.TTL / 3):
			}
			if err := s.lease.Acquire(ctx); err != nil {
				s.log.Error("seal lease renewal failed", "err", err)
				if errors.Is(err, scheduler.ErrLeaseLost) {
					return // another sealer holds it: the seal's fence stops this run's commits
				}
			}
		}
	}()
}

// fenced returns ctx with the lease's fence once the lease is held: each organization's
// commit then checks that the lease is still this run's (scheduler.Lease.Fence), so that
// a run paused past the TTL and taken over stops at its next commit.
func (s *sealLease) fenced(ctx context.Context) context.Context {
	if !s.held {
		return ctx
	}
	return archiver.WithFence(ctx, s.lease.CommitFence)
}

// release gives the lease up, if taken.
func (s *sealLease) release(ctx context.Context) {
	if !s.held {
		return
	}
	close(s.stop)
	<-s.done
	if err := s.lease.Release(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("seal lease release", "err", err)
	}
}

// runHolderName names a run in the lease: its host and process id, so that a rerun on the
// same host can tell that the run holding the lease was killed (deadRunHolder).
func runHolderName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-run%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// deadRunHolder reports whether holder is a run of this host (runHolderName) whose process
// is gone. Anything else (another host, serve's scheduler, a process it cannot check) is
// taken for alive: its lease runs out by its TTL.
func deadRunHolder(holder string) bool {
	pid, ok := localRunPid(holder)
	return ok && processGone(pid)
}

// liveRunHolder reports whether holder is a run of this host whose process still runs:
// alive, so its lease is not waited for (waitUnrenewed). False when it cannot tell.
func liveRunHolder(holder string) bool {
	pid, ok := localRunPid(holder)
	return ok && processRuns(pid)
}

// localRunPid returns the process id of holder when it names a run of this host
// (runHolderName) other than this process.
func localRunPid(holder string) (int, bool) {
	host, _ := os.Hostname()
	rest, ok := strings.CutPrefix(holder, host+"-run")
	if !ok || host == "" {
		return 0, false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
		return 0, false
	}
	return pid, true
}
