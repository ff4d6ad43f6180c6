package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/archiver"
)

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
	vo, ok := l.Store.(archiver.VersionOpener)
	if !ok || versionID == "" {
		return l.Store.Open(ctx, key)
	}
	rc, err := vo.OpenVersion(ctx, key, versionID)
	if !errors.Is(err, archiver.ErrNotFound) {
		return rc, err
	}
	pv, perr := l.PinnedVersion(ctx, key, versionID)
	if perr != nil || pv.Held || pv.First == "" {
		return nil, err
	}
	if pv.First == archiver.NullVersion {
		return l.Store.Open(ctx, key)
	}
	return vo.OpenVersion(ctx, key, pv.First)
}

// PinnedVersion lists the versions of key (one listing) and tells whether versionID is
// among them. On a bucket that keeps no versions First is NullVersion when the key
// exists; a store that lists no versions (not a Locker: a folder) gives the zero value.
func (l Ledger) PinnedVersion(ctx context.Context, key, versionID string) (archiver.PinnedVersion, error) {
	var pv archiver.PinnedVersion
	lk, ok := l.Store.(archiver.Locker)
	if !ok {
		return pv, nil
	}
	err := lk.Versions(ctx, key, func(v archiver.ObjectVersion) error {
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
		return archiver.PinnedVersion{}, fmt.Errorf("versions of %s: %w", key, err)
	}
	return pv, nil
}
