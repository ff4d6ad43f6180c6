package archiver

import (
	"context"
	"crypto/sha256"
	"io"
)

// Object versions (issue 10): on a versioned bucket (S3 with Object Lock always is),
// someone with write access cannot change a stored version, but can put a newer one under
// the same key, which a plain GET then returns. So each manifest records the version id of
// every object it names, as the store reported it when the seal created the object, and
// readers open exactly that version. The interfaces are optional: Store stays what every
// backend can do, and a folder has no versions (its manifests carry none).

// VersionCreator is a store that reports which version of a key a create made.
type VersionCreator interface {
	// CreateVersion is Store.Create, and returns the version id of the object now under
	// key: the one it wrote or, when key already held the same bytes (an idempotent
	// rerun), the current one. It is empty when the store keeps no versions of key.
	CreateVersion(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt CreateOptions) (string, error)
}

// VersionOpener is a store that opens one version of a key.
type VersionOpener interface {
	// OpenVersion is Store.Open of the version versionID of key. A missing version gives
	// an error wrapping ErrNotFound.
	OpenVersion(ctx context.Context, key, versionID string) (io.ReadCloser, error)
}

// VersionReporter is a store that tells which version of a key is current.
type VersionReporter interface {
	// CurrentVersion returns the version id of key's current version ("" when the store
	// keeps no versions of it); a key whose current version is a delete marker gives an
	// error wrapping ErrNotFound.
	CurrentVersion(ctx context.Context, key string) (string, error)
}

// createVersion stores an object and returns its version id where the store has one.
func createVersion(ctx context.Context, s Store, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt CreateOptions) (string, error) {
	if vc, ok := s.(VersionCreator); ok {
		return vc.CreateVersion(ctx, key, body, size, sum, opt)
	}
	return "", s.Create(ctx, key, body, size, sum, opt)
}

// OpenObject opens an object a manifest names: the version versionID when it has one and
// the store can open versions, else the key's current bytes (readers still check them
// against the manifest's SHA-256).
func (l Ledger) OpenObject(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	if vo, ok := l.Store.(VersionOpener); ok && versionID != "" {
		return vo.OpenVersion(ctx, key, versionID)
	}
	return l.Store.Open(ctx, key)
}
