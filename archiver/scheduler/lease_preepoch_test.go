package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// preEpochAcquire is Acquire as a binary of before the lease's epochs does it (chatvault
// until 2026-12-01, the replica left of a rolling upgrade): the last key under the
// prefix is the last link, and the next is created beside it, <prefix><seq>.json.
func preEpochAcquire(ctx context.Context, s archiver.Store, holder string, now time.Time, ttl time.Duration) error {
	const prefix = "leases/scheduler/"
	var key string
	if err := s.List(ctx, prefix, func(k string) error { key = k; return nil }); err != nil {
		return err
	}
	var seq int64 = 1
	if key != "" {
		rc, err := s.Open(ctx, key)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		var link leaseLink
		if err := json.Unmarshal(b, &link); err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(key, prefix), ".json"), 10, 64)
		if err != nil || n != link.Seq {
			return fmt.Errorf("lease: %s: sequence does not match its name", key)
		}
		if link.Holder != holder && now.Before(link.Expires) {
			return ErrLeaseHeld
		}
		seq = link.Seq + 1
	}
	b, _ := json.Marshal(leaseLink{Seq: seq, Holder: holder, Expires: now.Add(ttl)})
	err := s.Create(ctx, fmt.Sprintf("%s%012d.json", prefix, seq), bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
	if errors.Is(err, archiver.ErrConflict) {
		return ErrLeaseHeld
	}
	return err
}

// interposingStore runs before once, at the first Create of a key under the lease's
// prefix: the other replica's acquire landing between this one's read of the last link
// and its create.
type interposingStore struct {
	archiver.Store
	once   sync.Once
	before func()
}

func (s *interposingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, "leases/scheduler/") {
		s.once.Do(s.before)
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestLeaseAgainstAPreEpochReplica: a rolling upgrade runs serve of the version before
// the lease's epochs beside this one on one store. Its links are <prefix><seq>.json;
// this version's first link after them was e/<epoch>/<seq>.json, the same seq under
// another key, so when both read the last link before either created the next (both
// schedulers tick on the same cron minute), both creates succeeded and both replicas
// held the lease: each sealed the organization-days due, one in layout 3 and one in
// layout 2, and the chains forked (found on MinIO with two serve replicas, the old one
// at 6c132cd). While no epoch exists, the link is first created under the old binary's
// key too, so exactly one of them gets the seq; once an epoch exists the old binary
// fails its lookups and takes no lease, as lease_epochs.go says.
func TestLeaseAgainstAPreEpochReplica(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 17, 44, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		links int // links the old binary left (released) before the upgraded replica started
	}{{"a new store", 0}, {"a store the old binary leased", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			base := newLeaseStore(t)
			for i := range tc.links {
				if err := preEpochAcquire(ctx, base, "serve-old", t0.Add(time.Duration(i-10)*time.Minute), time.Second); err != nil {
					t.Fatal(err)
				}
			}
			var oldErr error
			s := &interposingStore{Store: base}
			s.before = func() { oldErr = preEpochAcquire(ctx, base, "serve-old", t0, 2*time.Minute) }
			l := &Lease{Store: s, Holder: "serve-new", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
			newErr := l.Acquire(ctx)
			if oldErr != nil {
				t.Fatalf("the old replica, first to create: %v", oldErr)
			}
			if !errors.Is(newErr, ErrLeaseHeld) {
				t.Fatalf("both replicas hold the lease: the upgraded one's acquire answered %v after the old one took the seq", newErr)
			}
			// Later, the old one's lease expired: the upgraded replica takes it, and the old
			// one, looking again, takes nothing.
			l.Clock = NewFakeClock(t0.Add(10 * time.Minute))
			if err := l.Acquire(ctx); err != nil {
				t.Fatalf("after the old lease expired: %v", err)
			}
			if err := preEpochAcquire(ctx, base, "serve-old", t0.Add(10*time.Minute), 2*time.Minute); err == nil {
				t.Fatal("the old replica took the lease the upgraded one holds")
			}
		})
	}

	// The other order: the upgraded replica creates first, the old one's create lands
	// between its read and its create: the old one gets ErrLeaseHeld.
	ctx := t.Context()
	base := newLeaseStore(t)
	var oldErr error
	s := &interposingStore{Store: base}
	l := &Lease{Store: s, Holder: "serve-new", TTL: 2 * time.Minute, Clock: NewFakeClock(t0)}
	s.once.Do(func() {}) // no interposition: the upgraded replica first
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	oldErr = preEpochAcquire(ctx, base, "serve-old", t0, 2*time.Minute)
	if oldErr == nil {
		t.Fatal("the old replica took the lease the upgraded one holds")
	}
	reliability.Record(t, "operations", "rolling upgrade: serve of the version before the lease's epochs and this one on one store, both schedulers ticking at once", reliability.Refused,
		"exactly one replica takes the lease: while no epoch exists the first link is also created under the old binary's key; before, both created seq N under different keys, both sealed and the chains forked")
}
