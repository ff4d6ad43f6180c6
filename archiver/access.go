package archiver

import (
	"context"
	"crypto/ed25519"
)

// Small accessors for the packages that only read the archive (package verify): the
// layout of keys and the checks of signed objects, so that they need not know how keys
// are spelled or bodies encoded.

// ChainPrefix is the prefix of org's manifest chain.
func ChainPrefix(org string) string { return chainPrefix(org) }

// ChainKey is the key of org's manifest seq.
func ChainKey(org string, seq int64) string { return chainKey(org, seq) }

// ParseSeq returns the seq of a key of org's chain.
func ParseSeq(org, key string) (int64, bool) { return parseSeq(org, key) }

// DayPrefix is the prefix of org's objects of day.
func DayPrefix(org string, day Day) string { return dayPrefix(org, day) }

// RevisionKey is the key of org's day index of revision rev of day (a copy of the
// revision's manifest).
func RevisionKey(org string, day Day, rev int) string { return revisionKey(org, day, rev) }

// ReadManifest reads and decodes the manifest stored under key.
func (l Ledger) ReadManifest(ctx context.Context, key string) (*StoredManifest, error) {
	return l.readManifest(ctx, key)
}

// ParseAccountingKey returns the day, number and SHA-256 (hex) an accounting object's key
// names.
func ParseAccountingKey(key string) (day Day, n int, sum string, ok bool) {
	return parseAccountingKey(key)
}

// CheckManifestSignature checks m's signature: valid, and with trusted keys, by one of
// them (an unsigned manifest then fails).
func CheckManifestSignature(m *Manifest, trusted []ed25519.PublicKey) error {
	return verifySignatureTrusted(m, trusted)
}

// ManifestSigner returns the key id of m's signer, "" when m is not signed.
func ManifestSigner(m *Manifest) (string, error) {
	_, id, err := signerKey(m)
	return id, err
}

// CheckAccountingSignature checks a's signature like CheckManifestSignature.
func CheckAccountingSignature(a *Accounting, trusted []ed25519.PublicKey) error {
	return verifyAccountingSignature(a, trusted)
}

// Findings is where the checks the root keeps (they know its formats: audit segments,
// locks and versions, rotation statements) report what they find; package verify's
// report is one.
type Findings interface {
	// Problemf reports an integrity problem.
	Problemf(format string, args ...any)
	// Warn reports what is worth a look but does not break integrity.
	Warn(msg string)
	// Read counts objects and bytes read.
	Read(objects int, bytes int64)
}
