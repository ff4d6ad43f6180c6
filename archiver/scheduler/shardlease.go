package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// ShardLeasesPrefix starts the leases of sharded runs: `run --shard i/n` holds
// leases/shards/<n>/<i>/ while it seals (its shards own disjoint organizations, so
// they run at once; each holds its own lease).
const ShardLeasesPrefix = "leases/shards/"

// HeldByAnother reports whether another holder than l's holds the lease now (its last
// link names another holder and has not expired by the clock skew, as Acquire counts it),
// and who.
func (l *Lease) HeldByAnother(ctx context.Context) (string, bool, error) {
	last, err := l.last(ctx)
	if err != nil || last == nil {
		return "", false, err
	}
	if last.Holder != l.Holder && l.heldAt(last, l.Clock.Now()) {
		return last.Holder, true, nil
	}
	return "", false, nil
}

// shardRunning returns the prefix and holder of a shard lease held now (by anyone but
// l's holder), or "" when none is: one listing of the shard counts, one per count, and
// each shard's lease read as Acquire reads it. Expired and released leases hold nothing.
func shardRunning(ctx context.Context, l *Lease) (string, string, error) {
	var counts []string
	if err := archiver.ListFolders(ctx, l.Store, ShardLeasesPrefix, func(n string) error {
		counts = append(counts, n)
		return nil
	}); err != nil {
		return "", "", fmt.Errorf("shard leases: %w", err)
	}
	for _, n := range counts {
		var shards []string
		if err := archiver.ListFolders(ctx, l.Store, ShardLeasesPrefix+n+"/", func(i string) error {
			shards = append(shards, i)
			return nil
		}); err != nil {
			return "", "", fmt.Errorf("shard leases: %w", err)
		}
		for _, i := range shards {
			sl := &Lease{Store: l.Store, Prefix: ShardLeasesPrefix + n + "/" + i + "/", Holder: l.Holder, Clock: l.Clock, MaxSkew: l.MaxSkew}
			holder, held, err := sl.HeldByAnother(ctx)
			if err != nil {
				return "", "", err
			}
			if held {
				return sl.Prefix, holder, nil
			}
		}
	}
	return "", "", nil
}

// ShardRunning returns the prefix and holder of a shard lease held now by another holder
// than l's, or "" when none is: what the scheduler looks for once it holds its lease, for
// the other holders of that lease (an unsharded `run --date`) to look for as well.
func ShardRunning(ctx context.Context, l *Lease) (prefix, holder string, err error) {
	return shardRunning(ctx, l)
}

// LeaseLink is a lease's last link as another process reads it: who wrote it, its place
// in the chain, its expiry, and whether it holds the lease now (HeldByAnother's answer).
type LeaseLink struct {
	Holder  string
	Seq     int64
	Expires time.Time
	Held    bool
}

// Last reads the lease's last link (the zero LeaseLink when it has none). A holder renews
// by adding links, so a Seq that moves on while its link holds the lease shows a holder
// alive; one that stays while the link runs out shows one that stopped (a sharded run
// waits for a killed run of its shard so: shardlease.go in cmd/chatvault).
func (l *Lease) Last(ctx context.Context) (LeaseLink, error) {
	last, err := l.last(ctx)
	if err != nil || last == nil {
		return LeaseLink{}, err
	}
	held := last.Holder != l.Holder && l.heldAt(last, l.Clock.Now())
	return LeaseLink{Holder: last.Holder, Seq: last.Seq, Expires: last.Expires, Held: held}, nil
}
