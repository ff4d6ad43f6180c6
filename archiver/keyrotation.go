package archiver

import (
	"slices"
)

// RotationsPrefix starts the keys of key rotation statements:
//
//	keys/rotations/<old key id>-<new key id>.json
//
// A manifest chain whose signing key changes from one manifest to the next is a forgery
// unless a statement for that change exists: an attacker who can write to the store but
// holds no signing key could otherwise re-sign the newest manifests with a key of their
// own, and a verifier without the public key would see valid signatures.
const RotationsPrefix = "keys/rotations/"

// KeyRotation is the statement that signing passes from one key to another. It is signed
// by both: the old key's signature shows that whoever held the key the chain was signed
// with authorized the change (an examiner who trusts the old key can extend that trust to
// the new one), the new key's that the statement names a key its signer holds. It is
// stored once and never replaced, like every object.
type KeyRotation struct {
	Version int         `json:"version"`
	From    RotatingKey `json:"from"`
	To      RotatingKey `json:"to"`
	// RotatedAt is when the statement was made (RFC 3339, UTC).
	RotatedAt string `json:"rotatedAt"`
	// Reason is the operator's word on why (scheduled rotation, suspected compromise, …).
	Reason string `json:"reason,omitempty"`
	// Heads (from version 2) are every organization's chain head when the statement was
	// made, by organization: where the old key's use ends. A manifest signed by the old key
	// further along an organization's chain (or on the chain of an organization not
	// listed) was signed after the key was retired, which is what a thief of a key rotated
	// away after a compromise would write (see RetiredBy). Both keys sign them, so neither
	// a thief of one key nor a writer to the store can move them.
	Heads []RotationHead `json:"heads,omitempty"`
	// Signatures are the old key's and the new key's, in that order, over the statement
	// encoded without them.
	Signatures []Signature `json:"signatures,omitempty"`

	// StoredKey is where the statement is stored; HeadIndex indexes Heads by organization (both
	// set by checkRotation).
	StoredKey string                  `json:"-"`
	HeadIndex map[string]RotationHead `json:"-"`
}

// RotationHead is one organization's chain head when a rotation statement was made.
type RotationHead struct {
	Org string `json:"org"`
	Seq int64  `json:"seq"`
	// SHA256 is the hex SHA-256 of the manifest at Seq.
	SHA256 string `json:"sha256"`
}

// Key is where the statement is stored.
func (r *KeyRotation) Key() string { return r.StoredKey }

// HeadSeq is org's chain head when the statement was made: 0 when the organization had
// no chain then (or the statement, of version 1, does not say: see Bounded).
func (r *KeyRotation) HeadSeq(org string) int64 { return r.HeadIndex[org].Seq }

// HeadAt returns the hex SHA-256 the statement fixes for org's manifest at seq, "" when it
// fixes none there.
func (r *KeyRotation) HeadAt(org string, seq int64) string {
	if h, ok := r.HeadIndex[org]; ok && h.Seq == seq {
		return h.SHA256
	}
	return ""
}

// Bounded reports whether the statement records where the old key's use ends (version 2
// and later).
func (r *KeyRotation) Bounded() bool { return r.Version >= 2 }

// RetiredBy returns the statement after which key id may no longer sign a manifest at
// position seq of org's chain, nil when the statements let it sign there. A statement
// from id that records the chain heads (Bounded) ends id's use at org's head then (at
// seq 0, nothing, for an organization that had no chain): past it, id signs only after
// a later statement rotated back to id, at org's head when that one was made. Checked
// with the statements alone, which the public keys verify: verify needs no private key.
func RetiredBy(stmts []*KeyRotation, id, org string, seq int64) *KeyRotation {
	for _, r := range stmts {
		if !r.Bounded() || r.From.KeyID != id {
			continue
		}
		end := r.HeadSeq(org)
		if seq <= end {
			continue
		}
		// Rotated back to id after r: heads further along, or as far with a later
		// statement (two rotations with nothing sealed between them).
		restored := slices.ContainsFunc(stmts, func(b *KeyRotation) bool {
			if b == r || !b.Bounded() || b.To.KeyID != id {
				return false
			}
			start := b.HeadSeq(org)
			return start < seq && (start > end || start == end && b.RotatedAt >= r.RotatedAt)
		})
		if !restored {
			return r
		}
	}
	return nil
}

// RotatingKey names one key of a rotation.
type RotatingKey struct {
	KeyID string `json:"keyId"`
	// PublicKey is the raw Ed25519 public key, base64.
	PublicKey string `json:"publicKey"`
}
