package verify

import (
	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"

	"context"
	"errors"
	"fmt"
)

// verifyPinnedVersions reports the objects of m whose current version is not the one m
// names (issue 10.6): someone put a newer version under the key, or deleted it (a delete
// marker). Readers still open the manifest's version, and verify hashes that one; but the
// key's current view no longer matches the archive, which an examiner must hear about.
// verifyVersions, beside it, reports every key with more than one version whatever the
// manifests say.
func verifyPinnedVersions(ctx context.Context, l ledger.Ledger, m *archiver.StoredManifest, rep *Report) {
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
// verifyPinnedVersions); an empty want names no version and is not checked. A want the
// store does not hold at all, while the key holds a version, is no newer version put: the
// archive was copied here (aws s3 sync, CopyObject, a backup restore), which gives new
// version ids. The object was re-hashed at the key's version (Ledger.OpenObject), and the
// copy is counted for one warning (Report.foreign), not a problem per object: a copy
// of a whole archive would otherwise print one false accusation per object it holds.
func verifyPinnedVersion(ctx context.Context, l ledger.Ledger, key, want string, rep *Report) {
	vr, ok := l.Store.(archiver.VersionReporter)
	if !ok || want == "" {
		return // sealed before manifests named versions, or on a store without them
	}
	cur, err := vr.CurrentVersion(ctx, key)
	if err == nil && cur != want || errors.Is(err, archiver.ErrNotFound) {
		pv, perr := l.PinnedVersion(ctx, key, want)
		switch {
		case perr != nil:
			rep.problem("%s: %v", key, perr)
			return
		case !pv.Held && pv.First != "":
			rep.foreign.add(key, want)
			return
		}
	}
	switch {
	case errors.Is(err, archiver.ErrNotFound):
		rep.problem("%s: current version is missing or a delete marker, the manifest's is %s", key, want)
	case err != nil:
		rep.problem("%s: current version: %v", key, err)
	case cur != want:
		rep.problem("%s: current version %s is not the manifest's %s: a newer version was put under the key (the manifest's is what is served)", key, cur, want)
	}
}

// foreignWarning turns the count of objects whose manifest names a version the store
// does not hold (verifyPinnedVersion) into the one warning Run adds.
func (r *Report) foreignWarning() {
	if r.foreign.n == 0 {
		return
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf("%d object(s) (the first %s) are not in this store in the version their manifest names (%s), "+
		"and the key holds another: the archive was copied here (aws s3 sync, CopyObject, a restore from a backup give new version ids; "+
		"S3 Replication keeps them), or the sealed version was deleted; each was re-hashed at the key's first version and matched unless reported",
		r.foreign.n, r.foreign.key, r.foreign.detail))
	r.foreign = counted{}
}
