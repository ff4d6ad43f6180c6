package archiver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ManifestVersion is the version of the manifests this build writes in layout 2. Version 2
// (issue 10) carries only the organization's own numbers and names its signing key;
// version 1 manifests, written before, are still read and verified.
const ManifestVersion = 2

// ManifestVersion3 is the version of the manifests of layout 3 (layout.go): stored once,
// under their day, with previousKey, late, a keyless data object for a day without
// records and the chat index inline (docs/design/layout.md).
const ManifestVersion3 = 3

// maxManifestVersion is the newest manifest format this build reads.
const maxManifestVersion = ManifestVersion3

// minManifestVersion is the oldest manifest format this build still reads.
const minManifestVersion = 1

// Manifest commits one revision of one organization's day. It is written last and
// create-only: an org-day without a manifest was never sealed, whatever objects exist.
//
// Each organization's manifests form a hash chain (Seq, Previous), so that removing or
// rewriting any earlier manifest breaks every later one.
type Manifest struct {
	Version  int    `json:"version"`
	Org      string `json:"org"`
	OrgName  string `json:"orgName"`
	Date     string `json:"date"`
	Revision int    `json:"revision"`

	// Supersedes is set only on a revision that drops records of the revision it
	// follows, which nothing but an operator's explicit supersession commits: it says
	// which revision, how many records and why (issue 10 point 2; see revision.go).
	Supersedes *Supersession `json:"supersedes,omitempty"`

	// Seq numbers the organization's committed manifests from 1, across days.
	Seq int64 `json:"seq"`
	// Previous is the hex SHA-256 of the organization's previous manifest (Seq-1) as
	// stored; empty for Seq 1.
	Previous string `json:"previous"`
	// PreviousKey (version 3) is the key of the manifest at Seq-1, whose SHA-256 is
	// Previous: its day key, or its chain key orgs/<org>/manifests/<seq>.json where an old
	// chain is continued in layout 3; empty for Seq 1 and in versions 1 and 2.
	PreviousKey string `json:"previousKey,omitempty"`
	// Late (version 3) is set on a late commit: its key sorted before the organization's
	// last manifest key under d/ when it was committed, so a copy of it is stored at
	// orgs/<org>/late/<seq>.json to keep the chain order (LateKey).
	Late bool `json:"late,omitempty"`
	// Window is the partition's day, as epoch-ms bounds, and the event times seen.
	Window Window `json:"window"`
	// ClockSkew flags exported records whose eventTimestamp lies outside the partition's
	// day; absent when there are none.
	ClockSkew *ClockSkew `json:"clockSkew,omitempty"`
	// Counts are this organization's.
	Counts OrgCounts `json:"counts"`
	// Input and Quarantine are day-level data, shared by every organization of the day:
	// the whole partition's counts and the day's quarantine object. Version 1 manifests
	// carried them; version 2 manifests never do (an organization sees only its own
	// numbers, DESIGN invariant 5), and they live in the day's accounting object for
	// operators (see Accounting). Kept here, as pointers, to read version 1 manifests and
	// re-encode them to the same bytes.
	Input *InputCounts `json:"input,omitempty"`
	// Data is the day's export (gzipped canonical JSONL).
	Data       DataObject `json:"data"`
	Quarantine *ObjectRef `json:"quarantine,omitempty"`
	// Quarantined (issue 12) is the organization's own quarantine object: the day's
	// quarantined lines that could still be attributed to it (their chat or sender read,
	// and routed to it), gzipped JSONL in the day's quarantine line format, with its hashes
	// and line count (records). Absent when there were none, and in manifests sealed before
	// it existed. Named quarantinedLines, a name no day-level field has: it is neither the
	// day's quarantined count nor the shared Quarantine of version 1 manifests.
	Quarantined *DataObject `json:"quarantinedLines,omitempty"`
	// ChatIndex names the day's chat index (issue 12, chatindex.go); absent from manifests
	// sealed before it existed.
	ChatIndex *ChatIndexRef `json:"chatIndex,omitempty"`
	// DirectorySHA256 is the hex SHA-256 of the directory snapshot used for routing.
	DirectorySHA256 string `json:"directorySha256"`
	// RetentionDays is the organization's retention at sealing time.
	RetentionDays int `json:"retentionDays"`
	// Generator names the program that sealed the day.
	Generator string `json:"generator"`
	// SealedAt is when the manifest was made (RFC 3339, UTC).
	SealedAt string `json:"sealedAt"`
	// Signature is set when a signing key is configured.
	Signature *Signature `json:"signature,omitempty"`

	// Issue 10, files the reader skips: the partition's files that export.ignoreFiles
	// names, which were not read as events, each with its size and SHA-256 as read by the
	// run that made this manifest; absent when there were none.
	Ignored []IgnoredFile `json:"ignored,omitempty"`
}

// SealedTime is SealedAt as a time, or the end of the manifest's day when SealedAt does
// not parse (verify reports that): a time taken from the archive, for the exports that
// need one, never from the clock of the process writing them.
func (m *Manifest) SealedTime() time.Time {
	if t, err := time.Parse(time.RFC3339Nano, m.SealedAt); err == nil {
		return t.UTC()
	}
	if d, err := ParseDay(m.Date); err == nil {
		return d.End().UTC()
	}
	return time.Time{}
}

// Window bounds a day's events.
type Window struct {
	// Start and End are the day's bounds in epoch ms, End exclusive.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// FirstEvent and LastEvent are the smallest and largest eventTimestamp exported (0
	// when none was).
	FirstEvent int64 `json:"firstEvent"`
	LastEvent  int64 `json:"lastEvent"`
}

// ClockSkew counts exported records whose eventTimestamp lies outside their partition's
// UTC day. They are archived like every other record, because the partition, not the
// timestamp, says which day an event belongs to (so nothing falls between days); but a
// producer whose clock drifts, or that files events under the wrong day, shows here.
type ClockSkew struct {
	// Before counts records with eventTimestamp before Window.Start, After those at or
	// after Window.End.
	Before int64 `json:"before"`
	After  int64 `json:"after"`
	// Earliest and Latest are the smallest and largest eventTimestamp among them.
	Earliest int64 `json:"earliest"`
	Latest   int64 `json:"latest"`
}

// Add counts a record at ts, if it lies outside [start, end).
func (c *ClockSkew) Add(ts, start, end int64) {
	if ts >= start && ts < end {
		return
	}
	if c.Before+c.After == 0 || ts < c.Earliest {
		c.Earliest = ts
	}
	if c.Before+c.After == 0 || ts > c.Latest {
		c.Latest = ts
	}
	if ts < start {
		c.Before++
	} else {
		c.After++
	}
}

// Total is the number of records outside the day.
func (c ClockSkew) Total() int64 { return c.Before + c.After }

// OrgCounts are one organization's counts for a day.
type OrgCounts struct {
	Exported      int64            `json:"exported"`
	ByEventType   map[string]int64 `json:"byEventType"`
	ByContentType map[string]int64 `json:"byContentType"`
	// Excluded counts the organization's events left out by rule, by reason.
	Excluded map[string]int64 `json:"excluded"`
	// Duplicates counts identical records collapsed into one.
	Duplicates int64 `json:"duplicates"`
}

// InputCounts account for every line of a partition:
// Read = Exported + sum(Excluded) + Duplicates + Quarantined.
type InputCounts struct {
	Read        int64            `json:"read"`
	Exported    int64            `json:"exported"`
	Excluded    map[string]int64 `json:"excluded"`
	Duplicates  int64            `json:"duplicates"`
	Quarantined int64            `json:"quarantined"`
}

// Balanced reports whether the counts account for every line read.
func (c InputCounts) Balanced() bool {
	sum := c.Exported + c.Duplicates + c.Quarantined
	for _, n := range c.Excluded {
		sum += n
	}
	return sum == c.Read
}

// DataObject describes a stored export.
//
// In version 3 a day without records has no export object: Key, Size, SHA256 and
// VersionID are empty, and are left out of the encoding (Keyless); JSONLSHA256 is the
// SHA-256 of nothing (EmptySHA256). Readers serve EmptyExport for it.
type DataObject struct {
	Key string `json:"key"`
	// Size and SHA256 are of the stored (gzipped) bytes.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// JSONLSize and JSONLSHA256 are of the canonical JSONL inside.
	JSONLSize   int64  `json:"jsonlSize"`
	JSONLSHA256 string `json:"jsonlSha256"`
	Records     int64  `json:"records"`

	// Issue 10, point 6 (serving): the store's version id of the object the seal created,
	// when the store keeps versions (S3 with versioning, as Object Lock requires); readers
	// open exactly this version, so a newer one put under the key is never served.
	VersionID string `json:"versionId,omitempty"`
}

// Keyless reports whether d names no object (a version 3 day without records).
func (d DataObject) Keyless() bool {
	return d.Key == "" && d.Size == 0 && d.SHA256 == "" && d.VersionID == ""
}

// keylessData is DataObject's encoding when it names no object.
type keylessData struct {
	JSONLSize   int64  `json:"jsonlSize"`
	JSONLSHA256 string `json:"jsonlSha256"`
	Records     int64  `json:"records"`
}

// MarshalJSON encodes d, without key, size and sha256 when it names no object (Keyless):
// {"jsonlSize":0,"jsonlSha256":"e3b0…","records":0}. Any other DataObject is encoded as
// always, so version 1 and 2 manifests re-encode to their stored bytes.
func (d DataObject) MarshalJSON() ([]byte, error) {
	if d.Keyless() {
		return json.Marshal(keylessData{JSONLSize: d.JSONLSize, JSONLSHA256: d.JSONLSHA256, Records: d.Records})
	}
	type plain DataObject
	return json.Marshal(plain(d))
}

// EmptySHA256 is the hex SHA-256 of nothing: the JSONL hash of a day without records.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ObjectRef points at a stored object.
type ObjectRef struct {
	Key     string `json:"key"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Records int64  `json:"records"`
	// VersionID is the store's version id of the object, as in DataObject (issue 10.6).
	VersionID string `json:"versionId,omitempty"`
}

// Signature is an Ed25519 signature over the manifest encoded without its signature.
type Signature struct {
	Algorithm string `json:"algorithm"`
	// PublicKey is the signer's key (base64), so a verifier can tell which key signed;
	// trusting it is the verifier's decision.
	PublicKey string `json:"publicKey"`
	Value     string `json:"value"`

	// Issue 10, public-key verification: KeyID names the signing key (see KeyID), so that
	// verify can tell a key change in a chain, and an examiner can match the manifest to a
	// published public key. Absent from manifests signed before it existed; verify then
	// derives it from PublicKey.
	KeyID string `json:"keyId,omitempty"`
}

// KeyID is the id of an Ed25519 public key: the first 8 bytes, in hex, of the SHA-256 of
// the key's PKIX (SubjectPublicKeyInfo) DER encoding, which anyone can reproduce from the
// PEM file with standard tools:
//
//	openssl pkey -pubin -in signing.pub -outform DER | sha256sum | cut -c1-16
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// Only a key of the wrong length fails; it cannot have signed anything.
		return "invalid"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// signerKey returns the public key and key id of m's signature, or nil when m is unsigned.
// A signature whose keyId does not name its publicKey is an error.
func signerKey(m *Manifest) (ed25519.PublicKey, string, error) {
	if m.Signature == nil {
		return nil, "", nil
	}
	return signatureKey(m.Signature)
}

// VerifySignatureTrusted checks m's signature (see checkSignature).
func VerifySignatureTrusted(m *Manifest, trusted []ed25519.PublicKey) error {
	unsigned := *m
	unsigned.Signature = nil
	body, err := encodeManifest(&unsigned)
	if err != nil {
		return err
	}
	return checkSignature("manifest", m.Signature, body, trusted)
}

// encodeManifest returns the manifest's stored form: indented JSON and a newline.
// encoding/json writes struct fields in declaration order and map keys sorted, so the
// encoding is deterministic and a decoded manifest re-encodes to the same bytes.
func encodeManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// sign sets m.Signature with key over m's encoding without a signature.
func sign(m *Manifest, key ed25519.PrivateKey) error {
	m.Signature = nil
	body, err := encodeManifest(m)
	if err != nil {
		return err
	}
	m.Signature = NewSignature(key, body)
	return nil
}

// DecodeManifest parses a stored manifest.
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w%s", err, newerManifest(b, err))
	}
	if m.Version < minManifestVersion || m.Version > maxManifestVersion {
		return nil, fmt.Errorf("decode manifest: unsupported version %d%s", m.Version, newerManifest(b, nil))
	}
	return &m, nil
}

// newerManifest says, for a manifest this build refuses (err, a decode error, or nil
// for its version), when a newer chatvault probably wrote it: a version past the newest
// this build reads, or a field it does not know. A store sealed on by a newer release (a
// roll-back, or the older replica of a rolling upgrade) is then not reported as
// corrupt without a word of why. The manifest is refused all the same: its fields are
// what a commit binds, and one this build cannot check it must not take for checked.
func newerManifest(b []byte, err error) string {
	var probe struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return ""
	}
	if probe.Version > maxManifestVersion {
		return fmt.Sprintf(" (this build reads versions %d to %d: the manifest was written by a newer chatvault; read the store with that version)",
			minManifestVersion, maxManifestVersion)
	}
	if err != nil && strings.Contains(err.Error(), "json: unknown field ") {
		return " (a field this build does not know: the manifest was written by a newer chatvault, or altered; verify the store with the newest version that sealed it)"
	}
	return ""
}

// HexSum is sum in lower-case hex, as manifests and keys spell a SHA-256.
func HexSum(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// StoredManifest is a manifest with its stored bytes' identity.
type StoredManifest struct {
	*Manifest
	Key    string
	SHA256 [sha256.Size]byte
	Bytes  []byte
}

// Equal reports whether c and o count the day's lines alike (an absent reason is 0).
func (c InputCounts) Equal(o InputCounts) bool {
	if c.Read != o.Read || c.Exported != o.Exported || c.Duplicates != o.Duplicates || c.Quarantined != o.Quarantined {
		return false
	}
	for k, v := range c.Excluded {
		if o.Excluded[k] != v {
			return false
		}
	}
	for k, v := range o.Excluded {
		if c.Excluded[k] != v {
			return false
		}
	}
	return true
}
