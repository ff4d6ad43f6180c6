package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/archiver"
)

// ErrUntrustedManifest is returned (wrapped) by Ledger.Latest, and so by OpenExport and
// Status, for a manifest that is not what its key says it is (another organization's,
// another day's or revision's) or, with Ledger.TrustedKeys, not signed by one of them.
// Someone with write access to the store put it there: a day's manifest names the hash of
// its export, so a forged manifest with a matching data object would otherwise pass every
// check of the bytes served.
var ErrUntrustedManifest = errors.New("manifest is not the one sealed there")

// checkLatest checks that m, read from key for org's day, is that day's sealed manifest.
func (l Ledger) checkLatest(m *archiver.StoredManifest, org string, day archiver.Day) error {
	if m.Org != org || m.Date != day.String() || m.Revision < 1 || manifestKeyOf(m.Version, org, day, m.Revision) != m.Key {
		return fmt.Errorf("%s: %w: it says organization %s, day %s, revision %d", m.Key, ErrUntrustedManifest, m.Org, m.Date, m.Revision)
	}
	if len(l.TrustedKeys) > 0 {
		if err := archiver.VerifySignatureTrusted(m.Manifest, l.TrustedKeys); err != nil {
			return fmt.Errorf("%s: %w: %w", m.Key, ErrUntrustedManifest, err)
		}
	}
	return nil
}

// manifestKeyOf is where a manifest of version v of org's day and revision rev is read by
// day: its day key in layout 3 (version 3), its day index in layout 2 (versions 1 and 2).
// A manifest read from the other layout's key is not the one sealed there.
func manifestKeyOf(v int, org string, day archiver.Day, rev int) string {
	if v >= archiver.ManifestVersion3 {
		return archiver.DayKey3(org, day, rev)
	}
	return archiver.RevisionKey(org, day, rev)
}

// orgQuarantinePrefixOf is where the organization quarantine a manifest of version v of
// org's day names must be.
func orgQuarantinePrefixOf(v int, org string, day archiver.Day) string {
	if v >= archiver.ManifestVersion3 {
		return archiver.DayPrefix3(org, day) + "quarantine-"
	}
	return archiver.DayPrefix(org, day) + "quarantine-"
}

// RotatedTrust returns trusted extended by the keys that recorded rotations lead from to
// a trusted key, directly or through other keys: a rotation statement is signed by both
// its keys, so one whose new key is trusted was made by whoever holds that key, and the
// manifests the old key signed stay trusted after signing.keyFile moves to the new key.
// Statements that do not verify extend nothing (verify reports them), nor do those signed
// with a key already retired (RotationStatements): through one from a key of a thief's
// own to a stolen retired key, the thief's key would be trusted.
func (l Ledger) RotatedTrust(ctx context.Context, trusted []ed25519.PublicKey) ([]ed25519.PublicKey, error) {
	if len(trusted) == 0 {
		return nil, nil
	}
	rots, err := l.RotationStatements(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("key rotations: %w", err)
	}
	out := slices.Clone(trusted)
	ids := map[string]bool{}
	for _, k := range trusted {
		ids[archiver.KeyID(k)] = true
	}
	for added := true; added; {
		added = false
		for _, r := range rots {
			if !ids[r.To.KeyID] || ids[r.From.KeyID] {
				continue
			}
			pub, err := base64.StdEncoding.DecodeString(r.From.PublicKey)
			if err != nil || len(pub) != ed25519.PublicKeySize {
				continue // checkRotation has refused it already
			}
			out, ids[r.From.KeyID], added = append(out, ed25519.PublicKey(pub)), true, true
		}
	}
	return out, nil
}

// readFirstManifest reads the manifest at key in the version the seal created: on a store
// that keeps versions, the key's oldest (every object is created once, so a later version
// was put by someone else, and nothing but a signature could tell its manifest from the
// sealed one); elsewhere, the object.
func (l Ledger) readFirstManifest(ctx context.Context, key string) (*archiver.StoredManifest, error) {
	lk, ok := l.Store.(archiver.Locker)
	vo, ok2 := l.Store.(archiver.VersionOpener)
	if !ok || !ok2 {
		return l.readManifest(ctx, key)
	}
	var first string
	if err := lk.Versions(ctx, key, func(v archiver.ObjectVersion) error {
		// Versions come newest first within a key: the last is the oldest.
		if v.Key == key && !v.DeleteMarker {
			first = v.VersionID
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if first == "" || first == "null" {
		return l.readManifest(ctx, key)
	}
	rc, err := vo.OpenVersion(ctx, key, first)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := archiver.ReadCapped(rc, key)
	if err != nil {
		return nil, err
	}
	m, err := archiver.DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &archiver.StoredManifest{Manifest: m, Key: key, SHA256: sha256.Sum256(b), Bytes: b}, nil
}
