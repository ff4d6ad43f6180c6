package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Leases are time-based, so a holder that stops for longer than the TTL (a GC pause, a
// SIGSTOP, a frozen VM, a store call hung that long) can be taken over while it still
// believes it holds the lease, and go on writing when it resumes. Three guards bound what
// it can do:
//
//   - Fence, called before each organization's commit point (archiver.WithFence, through
//     CommitFence, which also bounds the commit point's write by the lease's expiry), checks
//     on the holder's own clock that its last link has more than a third of its TTL left,
//     and otherwise renews through the store, which succeeds only if the last link is
//     still its own. A paused sealer therefore stops at its next commit: the window left
//     is the commits past their fence when it paused (a seal has several in flight, up to
//     four per worker), which the layout-3 fork check reports.
//   - A takeover needs the other holder's link to have expired by MaxSkew on the taker's
//     clock: a replica whose clock runs up to MaxSkew ahead of the holder's (or a holder
//     whose clock runs behind) does not take the lease while the holder still counts it
//     as its own.
//   - Every link created is checked for later links (checkNoLaterLink): a create that
//     succeeds on a link the janitor pruned (a process paused between its read and its
//     create while the chain moved on two epochs) is not taken for the lease.

// DefaultMaxSkew is the clock skew between replicas the lease tolerates when MaxSkew is
// unset: NTP keeps hosts within milliseconds; a minute covers a host whose sync failed.
const DefaultMaxSkew = time.Minute

// ErrLeaseLost means this process held the lease and another holder took it since: the
// work it does under the lease must stop. It matches ErrLeaseHeld too.
var ErrLeaseLost = fmt.Errorf("%w: this process's lease was taken over (it was paused or cut off past its TTL)", ErrLeaseHeld)

// heldLink is the last link this process created: its seq and its expiry by its clock.
type heldLink struct {
	seq     int64
	expires time.Time
}

func (l *Lease) maxSkew() time.Duration {
	if l.MaxSkew > 0 {
		return l.MaxSkew
	}
	return DefaultMaxSkew
}

// heldAt reports whether link still holds the lease at now on this process's clock: until
// its expiry, and past it by MaxSkew, unless it was a release: a holder that gave the
// lease back holds nothing, whatever the clocks say. (A release's expiry is its holder's
// time of release; read as a lease, a host whose clock went back days skipped every run
// until its clock caught up, "another sealer is running".)
func (l *Lease) heldAt(link *leaseLink, now time.Time) bool {
	return !link.Released && now.Before(link.Expires.Add(l.maxSkew()))
}

// checkExpiryAhead fails with ErrClockSkew (and ErrLeaseHeld: it is not taken) when another holder's link expires further
// after now than any link is written for (the TTL, plus the skew tolerated): no holder
// on a clock within the skew of this one writes such a link, so this host's clock is
// behind (it went back) or the holder's is ahead. The lease is not taken all the same:
// the holder may be alive. Without it the refusal read "another sealer is running, try
// again when it is done" for as long as the clocks disagree.
func (l *Lease) checkExpiryAhead(link *leaseLink, now time.Time) error {
	if ahead := link.Expires.Sub(now); ahead > l.TTL+l.maxSkew() {
		return fmt.Errorf("%w (%w): the lease %s's last link (holder %s) expires at %s, %s after this host's time %s, though a link expires %s after it is written: "+
			"this host's clock is behind the holder's (it went back?) or the holder's is ahead; synchronize the clocks (NTP)",
			ErrClockSkew, ErrLeaseHeld, l.prefix(), link.Holder, link.Expires.UTC().Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339), l.TTL)
	}
	return nil
}

// lose records that the lease was taken from this process: Fence fails until Release.
func (l *Lease) lose() {
	l.held, l.lost = heldLink{}, true
}

// Fence returns nil if this process still holds the lease and may commit: without a store
// request while its last link has more than a third of the TTL left on its clock,
// otherwise after renewing it. It returns ErrLeaseLost once the lease was taken from it,
// and an error wrapping ErrLeaseHeld when it does not hold the lease.
func (l *Lease) Fence(ctx context.Context) error {
	_, err := l.fence(ctx)
	return err
}

// CommitFence is Fence for a commit point (archiver.WithFence): it also returns the
// commit's deadline, the held link's expiry less commitMargin on the lease's clock. The
// fence lets a commit through only with more than a third of the TTL left, and a commit
// point S3 throttles is retried for up to s3.maxAttempts (about 111s by default), longer
// than that: without a deadline it could land after the expiry, when another replica may
// have taken the lease over and committed on the same head (a fork). The seal makes no
// attempt of the write past the deadline.
func (l *Lease) CommitFence(ctx context.Context) (archiver.CommitDeadline, error) {
	expires, err := l.fence(ctx)
	if err != nil {
		return archiver.CommitDeadline{}, err
	}
	return archiver.CommitDeadline{At: expires.Add(-l.commitMargin()), Now: l.Clock.Now}, nil
}

// commitMargin is how long before the held link's expiry a commit point's write must have
// been sent: a sixth of the TTL (20s of serve's 2 minutes). A fence leaves more than a
// third of the TTL, so a commit gets at least the other sixth; the margin covers the
// last attempt, sent before the deadline, until it reaches the store. A taker needs the
// link expired by MaxSkew on its own clock, which is within MaxSkew of this host's
// (lease_skew.go): at this host's expiry at the earliest.
func (l *Lease) commitMargin() time.Duration { return l.TTL / 6 }

// fence is Fence, returning the held link's expiry when the process may commit.
func (l *Lease) fence(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return time.Time{}, ErrLeaseLost
	}
	if l.held.seq == 0 {
		return time.Time{}, fmt.Errorf("%w: this process does not hold the lease %s", ErrLeaseHeld, l.prefix())
	}
	if l.Clock.Now().Before(l.held.expires.Add(-l.TTL / 3)) {
		return l.held.expires, nil
	}
	// Late: the renewals stalled (the process was paused, or the store is slow). Renew now,
	// which only the holder of the last link can.
	start := l.Clock.Now()
	last, err := l.last(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if last == nil || last.Seq != l.held.seq || last.Holder != l.Holder {
		l.lose()
		return time.Time{}, ErrLeaseLost
	}
	if err := l.link(ctx, last.Seq+1, l.Clock.Now().Add(l.TTL)); err != nil {
		if errors.Is(err, ErrLeaseHeld) {
			l.lose()
			return time.Time{}, ErrLeaseLost
		}
		return time.Time{}, err
	}
	// The new link expires a TTL after the renewal started. A renewal the store held for
	// most of it (S3 throttling it, retried for up to s3.maxAttempts: about 111s by
	// default) leaves the commit less than the third of the TTL a fence promises, and
	// another replica could take the lease over, MaxSkew later, with the commit in flight.
	// The lease is still held: the next fence or renewal extends it in time.
	if now := l.Clock.Now(); !now.Before(l.held.expires.Add(-l.TTL / 3)) {
		return time.Time{}, fmt.Errorf("lease %s: its renewal took %s to land, leaving %s of the lease, less than a third of its TTL: too little to commit on", l.prefix(), now.Sub(start), l.held.expires.Sub(now))
	}
	return l.held.expires, nil
}

// checkNoLaterLink fails with ErrLeaseLost if the lease has a link after key (one
// listing, normally empty).
func (l *Lease) checkNoLaterLink(ctx context.Context, key string) error {
	var later string
	err := archiver.ListAfter(ctx, l.Store, l.epochRoot(), key, func(k string) error {
		if _, ok := l.parseLinkKey(k); ok {
			later = k
			return archiver.ErrStopListing
		}
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return fmt.Errorf("lease: list after %s: %w", key, err)
	}
	if later != "" {
		return fmt.Errorf("%w: %s was created after its successor %s had been (its epoch was pruned)", ErrLeaseLost, key, strings.TrimPrefix(later, l.prefix()))
	}
	return nil
}
