package verify

import (
	"github.com/chatvault/chatvault/archiver"

	"context"
	"errors"
)

// verifyPinnedVersions reports the objects of m whose current version is not the one m
// names (issue 10.6): someone put a newer version under the key, or deleted it (a delete
// marker). Readers still open the manifest's version, and verify hashes that one; but the
// key's current view no longer matches the archive, which an examiner must hear about.
// verifyVersions, beside it, reports every key with more than one version whatever the
// manifests say.
func verifyPinnedVersions(ctx context.Context, l archiver.Ledger, m *archiver.StoredManifest, rep *Report) {
	verifyPinnedVersion(ctx, l, m.Data.Key, m.Data.VersionID, rep)
	if q := m.Quarantined; q != nil {
		verifyPinnedVersion(ctx, l, q.Key, q.VersionID, rep)
	}
	if x := m.ChatIndex; x != nil && x.Inline == nil { // an inline index's members: once per object (layout3.go)
		verifyPinnedVersion(ctx, l, x.Key, x.VersionID, rep)
	}
	if q := m.Quarantine; q != nil {
		verifyPinnedVersion(ctx, l, q.Key, q.VersionID, rep)
	}
}

// verifyPinnedVersion reports key when its current version is not want (see
// verifyPinnedVersions); an empty want names no version and is not checked.
func verifyPinnedVersion(ctx context.Context, l archiver.Ledger, key, want string, rep *Report) {
	vr, ok := l.Store.(archiver.VersionReporter)
	if !ok || want == "" {
		return // sealed before manifests named versions, or on a store without them
	}
	cur, err := vr.CurrentVersion(ctx, key)
	switch {
	case errors.Is(err, archiver.ErrNotFound):
		rep.problem("%s: current version is missing or a delete marker, the manifest's is %s", key, want)
	case err != nil:
		rep.problem("%s: current version: %v", key, err)
	case cur != want:
		rep.problem("%s: current version %s is not the manifest's %s: a newer version was put under the key (the manifest's is what is served)", key, cur, want)
	}
}
