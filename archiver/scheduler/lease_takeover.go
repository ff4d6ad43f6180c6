package scheduler

import "context"

// AcquireOrTakeOver is Acquire, except that a lease held by a holder dead says is dead
// (a process of this host that no longer runs, say: it was killed while sealing and can
// seal nothing more) is taken over at once instead of after its TTL. A rerun after a
// crash then need not wait for the killed run's lease to run out. dead must answer false
// whenever it cannot tell.
func (l *Lease) AcquireOrTakeOver(ctx context.Context, dead func(holder string) bool) error {
	last, err := l.last(ctx)
	if err != nil {
		return err
	}
	now := l.Clock.Now()
	var seq int64 = 1
	if last != nil {
		if last.Holder != l.Holder && now.Before(last.Expires) && !dead(last.Holder) {
			return ErrLeaseHeld
		}
		seq = last.Seq + 1
	}
	return l.link(ctx, seq, now.Add(l.TTL))
}
