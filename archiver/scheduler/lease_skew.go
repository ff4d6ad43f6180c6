package scheduler

import (
	"errors"
	"fmt"
	"time"
)

// StoreClock is implemented by a store that learns the store's clock from its answers
// (the S3 store, from their Date headers): the skew of the store's clock from this
// host's, and whether it has seen one yet.
type StoreClock interface {
	ClockSkew() (time.Duration, bool)
}

// ErrClockSkew is wrapped by the error of an Acquire refused because this host's clock
// is further off the store's than MaxSkew.
var ErrClockSkew = errors.New("this host's clock is off the store's by more than the lease's clock skew (schedule.leaseMaxSkew)")

// checkClock refuses to create a lease link (take, take over or renew the lease) on a
// host whose clock is further off the store's than MaxSkew. The lease's expiries are
// compared across hosts' clocks, and it tolerates MaxSkew between them; nothing else
// catches a host beyond it, because the S3 SDK corrects its request signatures for the
// skew: the seal ran, and a replica ahead took a live holder's lease (two sealers, a fork
// of the chains), one behind wrote links already expired for the others. The store's
// clock stands in for the other replicas': each within MaxSkew/2 of it are within MaxSkew
// of one another. A store that cannot tell (the folder store) is not checked.
func (l *Lease) checkClock() error {
	sc, ok := l.Store.(StoreClock)
	if !ok {
		return nil
	}
	skew, ok := sc.ClockSkew()
	if !ok {
		return nil
	}
	if skew.Abs() > l.maxSkew()/2 {
		return fmt.Errorf("%w: the store's clock is %s ahead of this host's (allowed: %s either way); synchronize the clock (NTP)",
			ErrClockSkew, skew.Round(time.Second), l.maxSkew()/2)
	}
	return nil
}
