package scheduler

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// slowLeaseStore is a connection on which each creation of a lease link takes d on the
// process's clock: S3 throttling it (503 SlowDown) and the client retrying with backoff,
// up to s3.maxAttempts times (about 111s with the defaults), before it lands.
type slowLeaseStore struct {
	archiver.Store
	clock *FakeClock
	d     time.Duration
}

func (s slowLeaseStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, "leases/") {
		s.clock.Add(s.d)
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestFenceAfterASlowRenewal: the holder's renewals stalled; at a commit its fence renews
// the lease, and S3 throttles that renewal for most of the TTL before it lands. The link
// it created expires a TTL after the renewal started, so by the time it lands little of it
// is left. Before, Fence returned nil all the same: the commit went ahead with less than
// the third of the TTL every fence promises (here 20s, against 40s), so another replica
// could take the lease over, MaxSkew later, while the commit was still in flight. Now a
// fence whose renewal landed that late refuses the commit (the lease is still held: the
// next tick, or the renewal loop, renews it in time), and one that landed in time lets it.
func TestFenceAfterASlowRenewal(t *testing.T) {
	const ttl = 2 * time.Minute
	for _, tc := range []struct {
		name  string
		delay time.Duration
		ok    bool
	}{
		{"renewal lands in time", 10 * time.Second, true},
		{"renewal lands with less than a third of the TTL left", 100 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := NewFakeClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
			l := &Lease{Store: newLeaseStore(t), Holder: "host-a", TTL: ttl, Clock: clk}
			if err := l.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			l.Store = slowLeaseStore{l.Store, clk, tc.delay}
			clk.Add(ttl - ttl/3 + time.Second) // the renewals stalled: the fence must renew
			err := l.Fence(ctx)
			left := l.held.expires.Sub(clk.Now())
			if tc.ok {
				if err != nil || left <= ttl/3 {
					t.Fatalf("fence after a %s renewal: %v, %s of the lease left; want nil and more than %s", tc.delay, err, left, ttl/3)
				}
				return
			}
			if err == nil || errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "leases/scheduler/") {
				t.Fatalf("fence after a %s renewal, %s of the lease left: %v; want a refusal naming the lease", tc.delay, left, err)
			}
			t.Logf("fence: %v", err)
			// The lease is still this holder's: the next fence renews it in time.
			l.Store = l.Store.(slowLeaseStore).Store
			if err := l.Fence(ctx); err != nil {
				t.Fatalf("the next fence, the store answering again: %v", err)
			}
			reliability.Record(t, "fault", "S3 throttles the seal lease's renewal at a commit's fence for most of the TTL before it lands", reliability.Refused,
				"the fence refuses the commit when the renewed link has less than a third of the TTL left (another replica could take the lease over while the commit is in flight); the lease stays held and the next fence renews it")
		})
	}
}
