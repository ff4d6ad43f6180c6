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
	c.skew.Store(int64(server.Sub(at)))
	c.seen.Store(true)
}

// ClockSkew implements scheduler.StoreClock: S3's clock minus this host's, as the last
// answer with a Date header showed it (to its second), and whether one was seen yet.
func (s *Store) ClockSkew() (time.Duration, bool) {
	return time.Duration(s.clock.skew.Load()), s.clock.seen.Load()
}
