package audit_test

import (
	"context"
	"crypto/sha256"
	"io"
	"sync"

	"github.com/chatvault/chatvault/archiver"
)

// lockingStore locks what it creates with a RetainUntil, as S3 Object Lock would, and
// holds one version of each key.
type lockingStore struct {
	archiver.Store
	mu    sync.Mutex
	locks map[string]archiver.ObjectLock
}

var _ archiver.Locker = (*lockingStore)(nil)

func (s *lockingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
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

func (s *lockingStore) Locking() bool { return true }

func (s *lockingStore) Lock(_ context.Context, key string) (archiver.ObjectLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[key], nil
}

func (s *lockingStore) SetLegalHold(_ context.Context, key string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[key]
	l.LegalHold = on
	s.locks[key] = l
	return nil
}

func (s *lockingStore) Versions(ctx context.Context, prefix string, fn func(archiver.ObjectVersion) error) error {
	return s.List(ctx, prefix, func(key string) error {
		return fn(archiver.ObjectVersion{Key: key, VersionID: "v1"})
	})
}
