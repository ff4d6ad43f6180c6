package verifyloop

import (
	"context"
	"errors"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/scheduler"
)

// Several serve replicas on one store would each verify every slice, and each re-read every
// object sealed elsewhere: N replicas, N times the reads for the same assurance. With a
// Lease, one replica at a time verifies the slices (and the days noticed in the store):
// the one holding the lease, taken at a tick and renewed at each tick and around each run.
// The others verify only the days their own scheduler seals (it seals only while it holds
// the scheduler's lease, so each day once), and read the records the holder writes
// (follow), so that the metrics every replica exposes show the last slice and the
// problems found, whoever verified. They try the lease every tenth of an interval: a
// holder that stops cleanly releases it, and another replica takes it at its next try;
// one that dies stops renewing, and another takes it at its first try after LeaseTTL. The
// new holder verifies the slice at once if none completed in the last interval.

// Lease is a lease on the store that one replica holds at a time (scheduler.Lease, under
// LeasePrefix).
type Lease interface {
	// Acquire takes or renews the lease; it fails (scheduler.ErrLeaseHeld) when another
	// replica holds it.
	Acquire(ctx context.Context) error
	// Release gives the lease up, if this replica holds it.
	Release(ctx context.Context) error
}

// LeasePrefix is where the verification lease's links are stored.
const LeasePrefix = "leases/verify/"

// LeaseTTL is how long the verification lease outlives its holder's last renewal, for
// slices every interval: a little more than the interval, since the holder renews it at
// each tick. Its ticks then keep it; another replica takes over within LeaseTTL and a
// tenth of an interval of the holder's last renewal, so that the slices pause for less
// than two intervals (ChatvaultVerifyStalled does not fire).
func LeaseTTL(interval time.Duration) time.Duration { return interval + interval/10 }

// lead takes or renews the lease and reports whether this replica holds it (always, with
// no Lease).
func (l *Loop) lead(ctx context.Context) bool {
	if l.Lease == nil {
		l.metrics.leader.Set(1)
		return true
	}
	err := l.Lease.Acquire(ctx)
	if err == nil {
		if !l.holding {
			l.Logger.Info("verification lease taken: this replica verifies the slices")
		}
		l.holding, l.renewed = true, l.Now()
		l.metrics.leader.Set(1)
		return true
	}
	switch {
	case ctx.Err() != nil:
	case !errors.Is(err, scheduler.ErrLeaseHeld):
		l.Logger.Error("verification lease", "err", err)
	case l.holding:
		l.Logger.Warn("verification lease taken by another replica: it verifies the slices now")
	}
	if l.holding {
		// What it noticed in the store is the new holder's to notice: a later lease of
		// this replica's starts the fresh days again.
		l.known, l.fresh = nil, nil
		clear(l.elsewhere)
	}
	l.holding = false
	l.metrics.leader.Set(0)
	return false
}

// renew renews the lease this replica holds if it was not renewed lately: before and
// after a run, which may last longer than the slack between the interval and LeaseTTL.
func (l *Loop) renew(ctx context.Context) {
	if l.Lease == nil || !l.holding || l.Now().Sub(l.renewed) < l.Interval/20 || ctx.Err() != nil {
		return
	}
	l.lead(ctx)
}

// release gives the lease up at shutdown, so that another replica takes it at its next
// tick instead of after LeaseTTL.
func (l *Loop) release(ctx context.Context) {
	if l.Lease == nil || !l.holding {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := l.Lease.Release(ctx); err != nil {
		l.Logger.Warn("verification lease not released: another replica takes over when it runs out", "err", err)
	}
	l.holding = false
	l.metrics.leader.Set(0)
}

// follow reads the records finished yesterday or today that this process has not read
// nor written: the metrics count what they found (noteRead). Records are one object per
// run and few a day; the keys seen are kept for those two days only.
func (l *Loop) follow(ctx context.Context) error {
	today := archiver.DayOf(l.Now())
	var keys []string
	for _, d := range []archiver.Day{archiver.DayOf(today.Start().Add(-time.Hour)), today} {
		if err := l.Store.List(ctx, dayPrefix(d), func(k string) error {
			if isRecordKey(k, "") {
				keys = append(keys, k)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	l.mu.Lock()
	seen := l.seen
	l.seen = make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			l.seen[k] = true
		}
	}
	l.mu.Unlock()
	for _, k := range keys {
		if seen[k] {
			continue
		}
		r, err := Read(ctx, l.Store, k, l.TrustedKeys)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// Not read again: a record forged into the store must not be logged at every
			// tick either.
			l.Logger.Warn("verification record skipped", "err", err)
			l.mu.Lock()
			l.seen[k] = true
			l.mu.Unlock()
			continue
		}
		l.noteRead(r)
	}
	return nil
}

// noteRead counts a record read from the store (written by this process before a
// restart, or by another replica) in the metrics: the problems it found, when a run of
// its kind last completed. chatvault_verify_runs_total counts this process's runs only,
// so that its sum over the replicas counts each run once.
func (l *Loop) noteRead(r *Record) {
	l.mu.Lock()
	l.seen[r.Key] = true
	for _, p := range r.ProblemDetails {
		if r.Finished.After(l.found[p]) {
			l.found[p] = r.Finished
		}
	}
	l.mu.Unlock()
	if r.Error != "" {
		return
	}
	if g := l.metrics.lastRun.WithLabelValues(r.Kind); float64(r.Finished.Unix()) > gaugeValue(g) {
		g.Set(float64(r.Finished.Unix()))
	}
	// Kept only while this replica holds the lease: Slice, which uses and clears them,
	// runs only then.
	if r.Kind == KindSealed && r.Holder != l.Holder && l.holding {
		if l.elsewhere == nil {
			l.elsewhere = map[OrgDay]bool{}
		}
		for _, rg := range r.Ranges {
			from, err1 := archiver.ParseDay(rg.From)
			to, err2 := archiver.ParseDay(rg.To)
			if err1 != nil || err2 != nil {
				continue
			}
			for d := from; !d.After(to); d = d.Next() {
				l.elsewhere[OrgDay{rg.Org, d}] = true
			}
		}
	}
}

// verifiedElsewhere reports whether a sealed run of another replica, read since the last
// slice, verified od.
func (l *Loop) verifiedElsewhere(od OrgDay) bool { return l.elsewhere[od] }
