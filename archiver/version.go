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

// NullVersion is the version id S3 gives an object of a bucket that keeps no versions (or
// whose versioning is suspended): it names whatever the key holds.
const NullVersion = "null"

// PinnedVersion is what a store holds of a key whose manifest names a version.
type PinnedVersion struct {
	// Held is true when the store holds the version named, or a delete marker by that id.
	Held bool
	// First is the key's oldest version that is not a delete marker (NullVersion on a
	// bucket without versions), or "" when the key has none.
	First string
}
