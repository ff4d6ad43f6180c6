package archiver

import (
	"bytes"
	"crypto/ed25519"
)

// Small accessors for the packages that only read the archive (package verify): the
// layout of keys and the checks of signed objects, so that they need not know how keys
// are spelled or bodies encoded.

// CheckManifestSignature checks m's signature: valid, and with trusted keys, by one of
// them (an unsigned manifest then fails).
func CheckManifestSignature(m *Manifest, trusted []ed25519.PublicKey) error {
	return VerifySignatureTrusted(m, trusted)
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

// Layout 3 (layout.go, docs/design/layout.md): the keys of an organization's days, its
// late copies and members objects, for the packages that read the archive.

// MonthPrefix3 is the prefix of org's layout-3 keys of day's month: orgs/<org>/d/<yyyy>/<mm>/.
func MonthPrefix3(org string, day Day) string { return monthPrefix3(org, day) }

// DataKey3 is the key of org's export of day named by its SHA-256 (of the stored bytes).
func DataKey3(org string, day Day, sum [32]byte) string { return dataKey3(org, day, sum) }

// MembersKey is the key of org's members object of year y named by its SHA-256:
// orgs/<org>/members/<yyyy>/<sha>.json.
func MembersKey(org string, y int, sum [32]byte) string { return membersKey(org, y, sum) }

// ManifestKey is where org's manifest of revision rev of day is stored in a layout: its
// day key (DayKey3) in Layout3, its day index (RevisionKey) in Layout2.
func ManifestKey(layout int, org string, day Day, rev int) string {
	if layout == Layout3 {
		return DayKey3(org, day, rev)
	}
	return RevisionKey(org, day, rev)
}

// EmptyExport returns the export served for a day without records whose manifest names no
// object (version 3): a gzip of nothing, the same bytes every time.
func EmptyExport() []byte { return bytes.Clone(emptyExport()) }
