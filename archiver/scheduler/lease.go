package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Lease lets one of several replicas run the scheduler, on a create-only store.
//
// The lease is a chain of objects <Prefix>e/<epoch>/<seq>.json (lease_epochs.go), each
// naming a holder and an expiry. To take it, a replica reads the last link: if it is another holder's and not
// expired, the replica skips its tick; otherwise it creates the next link. Two replicas
// racing for the same link both call Create on the same key with different bytes, and the
// store lets exactly one win (the other gets ErrConflict). The holder renews by adding
// links and releases by adding one that has already expired. A holder that dies simply
// lets its link expire.
type Lease struct {
	Store  archiver.Store
	Prefix string // default "leases/scheduler/"
	Holder string // this replica's name, unique (host name and a random suffix)
	TTL    time.Duration
	Clock  Clock
	// MaxSkew is how far apart the replicas' clocks may be (default DefaultMaxSkew): a
	// lease is taken over only once it has expired by that much on the taker's clock
	// (lease_fence.go).
	MaxSkew time.Duration

	mu   sync.Mutex // serializes Acquire, Fence and Release of one process
	held heldLink   // the link this process last created while it holds the lease
	lost bool       // the lease was taken from this process since it took it (until Release)
	// ahead is another holder's link that expires further ahead than any link is written
	// for, as this process first saw it the last link (lease_takeover.go).
	ahead aheadLink
}

type leaseLink struct {
	Seq     int64     `json:"seq"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	// Released marks a link Release created: the lease is free at once, without waiting
	// out the clock skew (lease_fence.go).
	Released bool `json:"released,omitempty"`
}

// ErrLeaseHeld means another replica holds the lease.
var ErrLeaseHeld = errors.New("lease held by another replica")

func (l *Lease) prefix() string {
	if l.Prefix == "" {
		return "leases/scheduler/"
	}
	return l.Prefix
}

func (l *Lease) last(ctx context.Context) (*leaseLink, error) {
	link, _, err := l.lastLink(ctx)
	return link, err
}

// lastLink is last, and whether the lease has no epoch yet: its links, if any, are of
// before the epochs (lease_epochs.go), where a binary of that time also looks.
func (l *Lease) lastLink(ctx context.Context) (*leaseLink, bool, error) {
	key, err := l.lastKey(ctx) // lease_epochs.go
	if err != nil {
		return nil, false, fmt.Errorf("lease: list: %w", err)
	}
	if key == "" {
		return nil, true, nil
	}
	preEpoch := !strings.HasPrefix(key, l.epochRoot())
	rc, err := l.Store.Open(ctx, key)
	if errors.Is(err, archiver.ErrNotFound) && l.forget(key) {
		// The link this process remembered is gone: the store was restored from an older
		// backup (objects are never deleted but by the janitor, which keeps the last
		// epochs). Read the restored chain's last link afresh, once: without the hint the
		// lookup lists the store. Before, every later tick failed on the missing link
		// until a restart, and the days the backup lacked were never sealed again.
		return l.lastLink(ctx)
	}
	if err != nil {
		return nil, false, fmt.Errorf("lease: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return nil, false, fmt.Errorf("lease: read %s: %w", key, err)
	}
	var link leaseLink
	if err := json.Unmarshal(b, &link); err != nil {
		return nil, false, fmt.Errorf("lease: %s: %w", key, err)
	}
	if n, ok := l.parseLinkKey(key); !ok || n != link.Seq {
		return nil, false, fmt.Errorf("lease: %s: sequence does not match its name", key)
	}
	l.remember(key)
	return &link, preEpoch, nil
}

func (l *Lease) link(ctx context.Context, seq int64, expires time.Time, released ...bool) error {
	link := leaseLink{Seq: seq, Holder: l.Holder, Expires: expires.UTC(), Released: len(released) > 0 && released[0]}
	if !link.Released {
		if err := l.checkClock(); err != nil { // lease_skew.go
			return err
		}
	}
	b, _ := json.Marshal(link)
	key := l.linkKey(seq) // lease_epochs.go
	err := l.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
	if errors.Is(err, archiver.ErrConflict) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease: create %s: %w", key, err)
	}
	// A create succeeds on a key the janitor pruned: a process paused between its read of
	// the last link and this create may just have re-created a link of a chain that has
	// moved on epochs since (a lease fork). The chain's later links show it.
	if err := l.checkNoLaterLink(ctx, key); err != nil {
		return err
	}
	l.remember(key)
	l.held = heldLink{seq: seq, expires: expires.UTC()}
	return nil
}

// Acquire takes or renews the lease until now+TTL; it returns ErrLeaseHeld when another
// replica holds it.
func (l *Lease) Acquire(ctx context.Context) error {
	return l.AcquireOrTakeOver(ctx, func(string) bool { return false }) // lease_takeover.go: no holder is known dead
}

// Release gives the lease up, if this replica still holds it.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() { l.held, l.lost = heldLink{}, false }()
	last, err := l.last(ctx)
	if err != nil || last == nil || last.Holder != l.Holder {
		return err
	}
	return l.link(ctx, last.Seq+1, l.Clock.Now(), true)
}
