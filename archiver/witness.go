package archiver

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Witness records every organization's chain head at one moment, to be kept where the
// store's own administrator cannot rewrite it (a second bucket, another system). The store
// alone cannot show that its newest days were deleted when every organization's newest day
// went at once; a witness taken after a night's run can: verify --witness fails when a
// chain is shorter than, or differs from, a witnessed head. Since each manifest names its
// predecessor's SHA-256, matching the head's hash at its seq vouches for the whole chain
// up to it.
type Witness struct {
	Version int `json:"version"`
	// Store is the store's location as configured when the witness was made; informative.
	Store string `json:"store"`
	// CreatedAt is when the witness was made (RFC 3339, UTC).
	CreatedAt string        `json:"createdAt"`
	Heads     []WitnessHead `json:"heads"`
	// AuditHeads (version 2 on) are the organizations' audit chain heads (see
	// witness_audit.go); absent when the store held no audit segment. A version 1 witness
	// has none and witnesses the manifest chains only.
	AuditHeads []WitnessAuditHead `json:"auditHeads,omitempty"`
	// Signature is set when a signing key is configured: over the witness encoded without
	// it, like a manifest's.
	Signature *Signature `json:"signature,omitempty"`
}

// WitnessHead is one organization's chain head.
type WitnessHead struct {
	Org      string `json:"org"`
	Seq      int64  `json:"seq"`
	Date     string `json:"date"`
	Revision int    `json:"revision"`
	// SHA256 is the hex SHA-256 of the head manifest as stored.
	SHA256 string `json:"sha256"`
}

// WitnessVersion is the version of the witness files this build writes. Version 2 added
// the audit chain heads; version 1 files (manifest heads only) are still read.
const WitnessVersion = 2

// NewWitness makes the witness of the manifest chain heads and the audit chain heads,
// signed with key when it is not nil.
func NewWitness(heads []WitnessHead, audit []WitnessAuditHead, store string, now time.Time, key ed25519.PrivateKey) ([]byte, error) {
	w := &Witness{Version: WitnessVersion, Store: store, CreatedAt: now.UTC().Format(time.RFC3339), Heads: heads, AuditHeads: audit}
	if w.Heads == nil {
		w.Heads = []WitnessHead{}
	}
	if key != nil {
		body, err := encodeWitness(w)
		if err != nil {
			return nil, err
		}
		w.Signature = NewSignature(key, body)
	}
	return encodeWitness(w)
}

func encodeWitness(w *Witness) ([]byte, error) {
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode witness: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseWitness reads a witness file and checks its signature, if it has one: against the
// trusted keys when there are any (then an unsigned witness is refused too, since anyone
// could have written it), against the key it carries otherwise.
func ParseWitness(b []byte, trusted []ed25519.PublicKey) (*Witness, error) {
	var w Witness
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	switch {
	case w.Version != 1 && w.Version != WitnessVersion:
		return nil, fmt.Errorf("witness: unsupported version %d", w.Version)
	case w.Version == 1 && w.AuditHeads != nil:
		return nil, errors.New("witness: version 1 has no audit heads")
	}
	if err := checkAuditHeads(w.AuditHeads); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, h := range w.Heads {
		switch {
		case h.Org == "" || h.Seq < 1 || len(h.SHA256) != 64:
			return nil, fmt.Errorf("witness: malformed head %+v", h)
		case seen[h.Org]:
			return nil, fmt.Errorf("witness: organization %s twice", h.Org)
		}
		seen[h.Org] = true
	}
	if w.Signature == nil {
		if len(trusted) > 0 {
			return nil, errors.New("witness: not signed, but trusted public keys were given: an unsigned witness proves nothing about who made it")
		}
		return &w, nil
	}
	unsigned := w
	unsigned.Signature = nil
	body, err := encodeWitness(&unsigned)
	if err != nil {
		return nil, err
	}
	if err := checkSignature("witness", w.Signature, body, trusted); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	return &w, nil
}
