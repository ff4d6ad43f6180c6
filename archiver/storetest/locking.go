package storetest

import (
	"context"
	"crypto/sha256"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/chatvault/chatvault/archiver"
)

// LockingStore plays a store with Object Lock over another store (a folder store, say): each
// object is locked in compliance mode as its Create asked (RetainUntil), holds one version,
// and tests can then tamper with the locks (SetLock) and add versions and delete markers
// (AddVersion), as an operator with the bucket's permissions could.
type LockingStore struct {
	archiver.Store
	mu    sync.Mutex
	locks map[string]archiver.ObjectLock
	extra []archiver.ObjectVersion // versions and delete markers beyond each key's one
}

var _ archiver.Locker = (*LockingStore)(nil)

// NewLockingStore returns s with Object Lock played over it.
func NewLockingStore(s archiver.Store) *LockingStore {
	return &LockingStore{Store: s, locks: map[string]archiver.ObjectLock{}}
}

// Create implements archiver.Store, locking the new object as opt asks.
func (s *LockingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if err := s.Store.Create(ctx, key, body, size, sum, opt); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.locks[key]; !ok && !opt.RetainUntil.IsZero() {
		s.locks[key] = archiver.ObjectLock{Mode: archiver.ModeCompliance, RetainUntil: opt.RetainUntil}
	}
	return nil
}

// Locking implements archiver.Locker.
func (s *LockingStore) Locking() bool { return true }

// Lock implements archiver.Locker.
func (s *LockingStore) Lock(_ context.Context, key string) (archiver.ObjectLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[key], nil
}

// SetLegalHold implements archiver.Locker.
func (s *LockingStore) SetLegalHold(_ context.Context, key string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[key]
	l.LegalHold = on
	s.locks[key] = l
	return nil
}

// SetLock replaces key's lock (a tampering the test plays).
func (s *LockingStore) SetLock(key string, l archiver.ObjectLock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks[key] = l
}

// AddVersion adds a version or delete marker beside the keys' own.
func (s *LockingStore) AddVersion(v ...archiver.ObjectVersion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extra = append(s.extra, v...)
}

// Versions implements archiver.Locker: each listed key's one version ("v1"), and those
// AddVersion added, in key order.
func (s *LockingStore) Versions(ctx context.Context, prefix string, fn func(archiver.ObjectVersion) error) error {
	var all []archiver.ObjectVersion
	if err := s.List(ctx, prefix, func(key string) error {
		all = append(all, archiver.ObjectVersion{Key: key, VersionID: "v1"})
		return nil
	}); err != nil {
		return err
	}
	s.mu.Lock()
	for _, v := range s.extra {
		if strings.HasPrefix(v.Key, prefix) {
			all = append(all, v)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(all, func(a, b archiver.ObjectVersion) int { return strings.Compare(a.Key, b.Key) })
	for _, v := range all {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// HeldKeys returns the keys whose legal hold is on, sorted.
func (s *LockingStore) HeldKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var held []string
	for key, l := range s.locks {
		if l.LegalHold {
			held = append(held, key)
		}
	}
	slices.Sort(held)
	return held
}
