package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
//
// A version the store does not hold at all, while the key holds others, is read at the
// key's first version: the archive was copied to this bucket (`aws s3 sync`, CopyObject,
// a restore from a backup), which gives every object a new version id, and the manifests
// name the ids of the bucket they were sealed in. Refusing left a copied or restored
// archive unreadable, every sealed day of it; the first version is the one copied (objects
// are created once), and readers check its bytes against the manifest's SHA-256 as they
// check an object of a manifest that names no version. A version that is there but cannot
// be read, and a key with no version left, still fail.
func (l Ledger) OpenObject(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	vo, ok := l.Store.(VersionOpener)
	if !ok || versionID == "" {
		return l.Store.Open(ctx, key)
	}
	rc, err := vo.OpenVersion(ctx, key, versionID)
	if !errors.Is(err, ErrNotFound) {
		return rc, err
	}
	pv, perr := l.PinnedVersion(ctx, key, versionID)
	if perr != nil || pv.Held || pv.First == "" {
		return nil, err
	}
	if pv.First == NullVersion {
		return l.Store.Open(ctx, key)
	}
	return vo.OpenVersion(ctx, key, pv.First)
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

// PinnedVersion lists the versions of key (one listing) and tells whether versionID is
// among them. On a bucket that keeps no versions First is NullVersion when the key
// exists; a store that lists no versions (not a Locker: a folder) gives the zero value.
func (l Ledger) PinnedVersion(ctx context.Context, key, versionID string) (PinnedVersion, error) {
	var pv PinnedVersion
	lk, ok := l.Store.(Locker)
	if !ok {
		return pv, nil
	}
	err := lk.Versions(ctx, key, func(v ObjectVersion) error {
		if v.Key != key {
			return nil // another key with key as its prefix
		}
		if v.VersionID == versionID {
			pv.Held = true
		}
		// Versions come newest first within a key: the last is the oldest.
		if !v.DeleteMarker {
			pv.First = v.VersionID
		}
		return nil
	})
	if err != nil {
		return PinnedVersion{}, fmt.Errorf("versions of %s: %w", key, err)
	}
	return pv, nil
}
