package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AcquireOrTakeOver is Acquire, except that a lease held by a holder dead says is dead
// (a process of this host that no longer runs, say: it was killed while sealing and can
// seal nothing more) is taken over at once instead of after its TTL. A rerun after a
// crash then need not wait for the killed run's lease to run out. dead must answer false
// whenever it cannot tell.
//
// Another holder's link is taken over only once it has expired by MaxSkew on this
// process's clock (lease_fence.go). A process that holds the lease renews it only if the
// last link is still the one it created: one paused past its TTL whose lease was taken
// (and perhaps released) meanwhile has lost it, and Fence says so until Release.
func (l *Lease) AcquireOrTakeOver(ctx context.Context, dead func(holder string) bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, preEpoch, err := l.lastLink(ctx)
	if err != nil {
		return err
	}
	now := l.Clock.Now()
	var seq int64 = 1
	if last != nil {
		if l.held.seq != 0 && last.Seq != l.held.seq {
			l.lose()
			return fmt.Errorf("%w: link %d followed the one this process created (%d)", ErrLeaseLost, last.Seq, l.held.seq)
		}
		if last.Holder != l.Holder && l.heldAt(last, now) && !dead(last.Holder) {
			if err := l.checkExpiryAhead(last, now); err != nil { // lease_fence.go
				if !l.aheadUnrenewed(last, now) {
					return err
				}
				// Taken over: its holder wrote it while its clock ran ahead and has
				// renewed nothing since (aheadUnrenewed).
			} else {
				return ErrLeaseHeld
			}
		}
		seq = last.Seq + 1
	}
	if preEpoch {
		err = l.claimPreEpochSeq(ctx, seq, now.Add(l.TTL)) // lease_epochs.go
	}
	if err == nil {
		err = l.link(ctx, seq, now.Add(l.TTL))
	}
	if errors.Is(err, ErrLeaseHeld) && l.held.seq != 0 {
		l.lose() // another holder created the link after this process's own
	}
	return err
}

// aheadLink is a link another holder wrote expiring further ahead than any link is written
// for (checkExpiryAhead), and when, on this process's clock, it was first seen last.
type aheadLink struct {
	seq   int64
	since time.Time
}

// aheadUnrenewed reports whether link, another holder's expiring further ahead than any
// link is written for, has stayed the last link for longer than any live holder lets
// pass between renewals: the TTL and twice MaxSkew, on this process's clock (monotonic in
// production, so a step of the wall clock does not shorten it). Such a link was written
// by a holder whose clock ran ahead (an NTP step, an RTC wrong at boot), or by one on the
// right clock while this host's is behind; either way a holder that is alive renews it
// every third of the TTL, whatever the clocks say, and one that does not is dead (killed
// while its clock was ahead). Before, its link was never taken until the far date came on
// this host's clock: every sealer refused for hours or days, "synchronize the clocks",
// though they were. The first call for a link only starts the watch.
func (l *Lease) aheadUnrenewed(link *leaseLink, now time.Time) bool {
	if l.ahead.seq != link.Seq {
		l.ahead = aheadLink{seq: link.Seq, since: now}
		return false
	}
	return now.Sub(l.ahead.since) >= l.TTL+2*l.maxSkew()
}
