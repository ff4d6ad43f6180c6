package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// The lease's links are grouped by epochs of leaseEpochSize seqs:
//
//	<Prefix>e/<seq / 1000, 9 digits>/<seq, 12 digits>.json
//
// so that finding the last link never lists the whole chain (it grows by a link at every
// tick and every renewal, a third of the TTL, for as long as the store lives): a process
// that knows a link lists only the links after it (one listing, one read); one that does
// not lists the epochs' names, then the last epoch (at most 1,000 keys: one S3 page), then
// reads the last link. The next link's key depends on the last link's seq alone, so that
// two replicas racing for it still create the same key and exactly one wins.
//
// Links of epochs before the last two are never read again (a lookup reads the last link;
// one that starts after a remembered link lists past it whether or not it is still
// there), and Prune deletes them where the store lets it (archiver.Deleter); on an S3
// bucket whose Object Lock keeps them, they stay, and lookups still list at most the
// epochs' names and one epoch.
//
// Stores whose lease was written before the epochs hold links <Prefix><seq>.json: while
// no epoch exists, the last of those is the last link (one listing of them), and the next
// link follows its seq in the epochs. A binary of before the epochs that meets the new
// keys fails its lookups ("sequence does not match its name") and skips its ticks: it
// never takes a lease another holds. Until an epoch exists, the next link is created
// under its key too (claimPreEpochSeq), so that it and this process cannot both take it.

// claimPreEpochSeq creates the link seq under the key a binary of before the epochs
// would create it (<Prefix><seq>.json), for a lease with no epoch yet. That binary reads
// the last key under the prefix as the last link and creates the next beside it: without
// this, it and this process created seq under two keys, both creates succeeded and both
// held the lease (serve replicas of a rolling upgrade ticking on the same minute each
// sealed the days due, one in layout 2 and one in layout 3: the chains forked). Now
// exactly one of the two creates succeeds. Once an epoch exists, the old binary's lookups
// fail and it takes no lease, and Prune deletes these links.
func (l *Lease) claimPreEpochSeq(ctx context.Context, seq int64, expires time.Time) error {
	if err := l.checkClock(); err != nil { // lease_skew.go, as link
		return err
	}
	b, _ := json.Marshal(leaseLink{Seq: seq, Holder: l.Holder, Expires: expires.UTC()})
	key := fmt.Sprintf("%s%012d.json", l.prefix(), seq)
	err := l.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
	if errors.Is(err, archiver.ErrConflict) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("lease: create %s: %w", key, err)
	}
	return nil
}

// leaseEpochSize is the number of seqs per epoch folder (a variable for the tests).
var leaseEpochSize int64 = 1000

func (l *Lease) epochRoot() string { return l.prefix() + "e/" }

// linkKey is the key of the link with seq.
func (l *Lease) linkKey(seq int64) string {
	return fmt.Sprintf("%s%09d/%012d.json", l.epochRoot(), seq/leaseEpochSize, seq)
}

// parseLinkKey returns the seq a link's key names, in either layout.
func (l *Lease) parseLinkKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, l.prefix())
	if !ok {
		return 0, false
	}
	if e, ok := strings.CutPrefix(rest, "e/"); ok {
		epoch, name, ok := strings.Cut(e, "/")
		n, ok2 := parseSeqJSON(name)
		if !ok || !ok2 || epoch != fmt.Sprintf("%09d", n/leaseEpochSize) {
			return 0, false
		}
		return n, true
	}
	return parseSeqJSON(rest)
}

func parseSeqJSON(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 12 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// leaseHints remembers, per store and lease prefix, the last link this process read or
// wrote: one entry per lease the process uses (a handful).
var leaseHints sync.Map // leaseHintKey → string

type leaseHintKey struct {
	store  archiver.Store
	prefix string
}

func (l *Lease) hintKey() (leaseHintKey, bool) {
	if l.Store == nil || reflect.TypeOf(l.Store).Kind() != reflect.Pointer {
		return leaseHintKey{}, false
	}
	return leaseHintKey{l.Store, l.prefix()}, true
}

func (l *Lease) remember(key string) {
	if !strings.HasPrefix(key, l.epochRoot()) {
		return // a link of before the epochs: the next lookup looks for epochs first
	}
	if hk, ok := l.hintKey(); ok {
		leaseHints.Store(hk, key)
	}
}

// forget drops the remembered link when it is key, and reports whether it was.
func (l *Lease) forget(key string) bool {
	hk, ok := l.hintKey()
	return ok && leaseHints.CompareAndDelete(hk, key)
}

// lastKey returns the key of the lease's last link, "" when it has none.
func (l *Lease) lastKey(ctx context.Context) (string, error) {
	root := l.epochRoot()
	if hk, ok := l.hintKey(); ok {
		if v, ok := leaseHints.Load(hk); ok {
			hint := v.(string)
			last := hint
			err := archiver.ListAfter(ctx, l.Store, root, hint, func(k string) error {
				if _, ok := l.parseLinkKey(k); ok {
					last = k
				}
				return nil
			})
			return last, err
		}
	}
	var epoch string
	if err := archiver.ListFolders(ctx, l.Store, root, func(name string) error {
		epoch = name
		return nil
	}); err != nil {
		return "", err
	}
	var last string
	if epoch == "" {
		// Before the epochs: the links directly under the prefix.
		err := l.Store.List(ctx, l.prefix(), func(k string) error {
			if !strings.HasPrefix(k, root) {
				if _, ok := l.parseLinkKey(k); ok {
					last = k
				}
			}
			return nil
		})
		return last, err
	}
	err := l.Store.List(ctx, root+epoch+"/", func(k string) error {
		if _, ok := l.parseLinkKey(k); ok {
			last = k
		}
		return nil
	})
	return last, err
}

// Prune deletes the links no lookup reads again: those of the epochs before the last two,
// and the links of before the epochs once an epoch exists. It returns how many it
// deleted; a store that cannot delete (not an archiver.Deleter) or that refuses (an S3
// Object Lock) ends it with an error, the links kept.
func (l *Lease) Prune(ctx context.Context) (int, error) {
	d, ok := l.Store.(archiver.Deleter)
	if !ok {
		return 0, fmt.Errorf("lease: prune %s: %w", l.prefix(), errNoDelete)
	}
	root := l.epochRoot()
	var epochs []string
	if err := archiver.ListFolders(ctx, l.Store, root, func(name string) error {
		epochs = append(epochs, name)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("lease: prune %s: %w", l.prefix(), err)
	}
	if len(epochs) == 0 {
		return 0, nil
	}
	var old []string
	if err := l.Store.List(ctx, l.prefix(), func(k string) error {
		if !strings.HasPrefix(k, root) {
			if _, ok := l.parseLinkKey(k); ok {
				old = append(old, k)
			}
			return nil
		}
		return archiver.ErrStopListing // the epochs sort after the links of before them
	}); err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return 0, fmt.Errorf("lease: prune %s: %w", l.prefix(), err)
	}
	for _, e := range epochs[:max(len(epochs)-2, 0)] {
		if err := l.Store.List(ctx, root+e+"/", func(k string) error {
			old = append(old, k)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("lease: prune %s: %w", l.prefix(), err)
		}
	}
	n := 0
	for _, k := range old {
		if err := d.Delete(ctx, k); err != nil && !errors.Is(err, archiver.ErrNotFound) {
			return n, fmt.Errorf("lease: prune: %w", err)
		}
		n++
	}
	return n, nil
}

var errNoDelete = errors.New("the store cannot delete")
