package s3

import (
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// storeClock is the last skew seen between S3's clock (each answer's Date header) and
// this host's. The SDK corrects its request signatures for a skewed host by itself (S3
// would refuse them with RequestTimeTooSkewed past 15 minutes), so S3 works on a host
// whose clock is off; the time-based leases do not (scheduler.Lease): a replica whose
// clock runs ahead takes a live holder's lease, one behind writes links that are expired
// when written. ClockSkew lets the lease see it.
type storeClock struct {
	skew atomic.Int64 // nanoseconds, S3's time minus this host's
	seen atomic.Bool
}

// observe records the skew of one answer, when its metadata has the server's time.
func (c *storeClock) observe(md middleware.Metadata) {
	server, ok := awsmiddleware.GetServerTime(md)
	if !ok {
		return
	}
	at, ok := awsmiddleware.GetResponseAt(md)
	if !ok {
		return
	}
	c.record(server, at)
}

// record records the skew shown by an answer dated server (its Date header) and received
// at: the least the answer proves. The header has whole seconds, so S3's time when it
// answered was in [server, server+1s), and this host's at most at: the skew is at least
// server-at and at most a second more. Taking server-at alone made a host whose clock is
// right look up to a second behind, which schedule.leaseMaxSkew's lowest values (1s: half
// a second either way) refused.
func (c *storeClock) record(server, at time.Time) {
	var skew time.Duration
	switch lo := server.Sub(at); {
	case lo > 0:
		skew = lo
	case lo+time.Second < 0:
		skew = lo + time.Second
	}
	c.skew.Store(int64(skew))
	c.seen.Store(true)
}

// ClockSkew implements scheduler.StoreClock: S3's clock minus this host's, as the last
// answer with a Date header showed it (the least it proves, see record), and whether one was seen yet.
func (s *Store) ClockSkew() (time.Duration, bool) {
	return time.Duration(s.clock.skew.Load()), s.clock.seen.Load()
}
