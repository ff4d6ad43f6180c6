package archiver

import (
	"bytes"
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

// Layout 3 (layout.go, docs/design/layout.md): the keys of an organization's days, its
// late copies and members objects, for the packages that read the archive.

// DayRoot3 is the prefix of every layout-3 day key of org: orgs/<org>/d/.
func DayRoot3(org string) string { return dayRoot3(org) }

// MonthPrefix3 is the prefix of org's layout-3 keys of day's month: orgs/<org>/d/<yyyy>/<mm>/.
func MonthPrefix3(org string, day Day) string { return monthPrefix3(org, day) }

// DayPrefix3 is the prefix of org's layout-3 keys of day: orgs/<org>/d/<yyyy>/<mm>/<dd>.
// (a name prefix, ending with the dot).
func DayPrefix3(org string, day Day) string { return dayPrefix3(org, day) }

// DayKey3 is the key of org's version 3 manifest of revision rev of day:
// orgs/<org>/d/<yyyy>/<mm>/<dd>.r<rev>.json (rev in four digits).
func DayKey3(org string, day Day, rev int) string { return dayKey3(org, day, rev) }

// DataKey3 is the key of org's export of day named by its SHA-256 (of the stored bytes).
func DataKey3(org string, day Day, sum [32]byte) string { return dataKey3(org, day, sum) }

// LatePrefix is the prefix of org's late copies: orgs/<org>/late/.
func LatePrefix(org string) string { return latePrefix(org) }

// LateKey is the key of the copy of org's late manifest seq: orgs/<org>/late/<seq>.json
// (twelve digits).
func LateKey(org string, seq int64) string { return lateKey(org, seq) }

// ParseLateKey returns the seq a late copy's key of org names.
func ParseLateKey(org, key string) (int64, bool) { return parseLateKey(org, key) }

// MembersPrefix is the prefix of org's members objects: orgs/<org>/members/.
func MembersPrefix(org string) string { return membersPrefix(org) }

// MembersKey is the key of org's members object of year y named by its SHA-256:
// orgs/<org>/members/<yyyy>/<sha>.json.
func MembersKey(org string, y int, sum [32]byte) string { return membersKey(org, y, sum) }

// ParseDayKey3 splits a layout-3 day key of org into its day and its name within the day
// (what follows "<dd>.": "r0001.json", "events-<sha>.jsonl.gz", "failed-<ms>.json", …).
func ParseDayKey3(org, key string) (day Day, name string, ok bool) { return parseDayKey3(org, key) }

// ParseRevisionName returns the revision a manifest's name within its day gives:
// r<rev>.json, in both layouts (the name after "<dd>." in layout 3, after "<date>/" in
// layout 2).
func ParseRevisionName(name string) (int, bool) { return parseRevisionName(name) }

// ManifestKey is where org's manifest of revision rev of day is stored in a layout: its
// day key (DayKey3) in Layout3, its day index (RevisionKey) in Layout2.
func ManifestKey(layout int, org string, day Day, rev int) string {
	if layout == Layout3 {
		return dayKey3(org, day, rev)
	}
	return revisionKey(org, day, rev)
}

// EmptyExport returns the export served for a day without records whose manifest names no
// object (version 3): a gzip of nothing, the same bytes every time.
func EmptyExport() []byte { return bytes.Clone(emptyExport()) }
