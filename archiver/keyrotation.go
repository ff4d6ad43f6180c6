package archiver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
	// Signatures are the old key's and the new key's, in that order, over the statement
	// encoded without them.
	Signatures []Signature `json:"signatures,omitempty"`
}

// RotatingKey names one key of a rotation.
type RotatingKey struct {
	KeyID string `json:"keyId"`
	// PublicKey is the raw Ed25519 public key, base64.
	PublicKey string `json:"publicKey"`
}

func rotationKey(from, to string) string { return RotationsPrefix + from + "-" + to + ".json" }

func encodeRotation(r *KeyRotation) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key rotation: %w", err)
	}
	return append(b, '\n'), nil
}

// RecordRotation stores, create-only, the statement that signing passes from key from to
// key to, signed by both. It returns the statement's key. Recording the same rotation
// twice fails with ErrConflict (the first statement stands).
func (l Ledger) RecordRotation(ctx context.Context, from, to ed25519.PrivateKey, reason string, now time.Time, opt CreateOptions) (string, error) {
	fromPub, toPub := from.Public().(ed25519.PublicKey), to.Public().(ed25519.PublicKey)
	if bytes.Equal(fromPub, toPub) {
		return "", errors.New("key rotation: the new key is the old key")
	}
	r := &KeyRotation{
		Version:   1,
		From:      RotatingKey{KeyID: KeyID(fromPub), PublicKey: base64.StdEncoding.EncodeToString(fromPub)},
		To:        RotatingKey{KeyID: KeyID(toPub), PublicKey: base64.StdEncoding.EncodeToString(toPub)},
		RotatedAt: now.UTC().Format(time.RFC3339),
		Reason:    reason,
	}
	body, err := encodeRotation(r)
	if err != nil {
		return "", err
	}
	for _, k := range []ed25519.PrivateKey{from, to} {
		r.Signatures = append(r.Signatures, *newSignature(k, body))
	}
	b, err := encodeRotation(r)
	if err != nil {
		return "", err
	}
	key := rotationKey(r.From.KeyID, r.To.KeyID)
	if !opt.RetainUntil.IsZero() {
		// The statement explains every chain that changes key here, so it must outlive
		// the manifests signed by the old key: one deleted before them would make verify
		// report their chains as forged. They were all sealed by now, so the longest-kept
		// manifest so far bounds them.
		longest, err := l.longestKept(ctx)
		if err != nil {
			return "", fmt.Errorf("record key rotation: %w", err)
		}
		if longest.After(opt.RetainUntil) {
			opt.RetainUntil = longest
		}
	}
	if err := l.Store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), opt); err != nil {
		return "", fmt.Errorf("record key rotation: %w", err)
	}
	return key, nil
}

// checkRotation verifies a stored statement: its key names its two key ids, each id names
// its public key, and both keys signed it.
func checkRotation(key string, b []byte) (*KeyRotation, error) {
	var r KeyRotation
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("unsupported version %d", r.Version)
	}
	if key != rotationKey(r.From.KeyID, r.To.KeyID) {
		return nil, fmt.Errorf("stored under a key that does not name %s-%s", r.From.KeyID, r.To.KeyID)
	}
	if len(r.Signatures) != 2 {
		return nil, fmt.Errorf("%d signatures, want the old key's and the new key's", len(r.Signatures))
	}
	unsigned := r
	unsigned.Signatures = nil
	body, err := encodeRotation(&unsigned)
	if err != nil {
		return nil, err
	}
	for i, k := range []RotatingKey{r.From, r.To} {
		pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize || KeyID(pub) != k.KeyID {
			return nil, fmt.Errorf("key %s: malformed, or its id does not name it", k.KeyID)
		}
		s := r.Signatures[i]
		sig, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil || s.Algorithm != "ed25519" || s.PublicKey != k.PublicKey || !ed25519.Verify(pub, body, sig) {
			return nil, fmt.Errorf("the signature of key %s does not verify", k.KeyID)
		}
	}
	return &r, nil
}

// Rotations reads every rotation statement of the store and returns the changes they
// allow, old key id to new key ids. A statement that does not verify allows nothing and is
// a problem: it is either damaged or forged.
func (l Ledger) Rotations(ctx context.Context, rep Findings) (map[string][]string, error) {
	allowed := map[string][]string{}
	err := l.Store.List(ctx, RotationsPrefix, func(key string) error {
		b, err := readAll(ctx, l.Store, key)
		if err != nil {
			return err
		}
		rep.Read(1, int64(len(b)))
		r, err := checkRotation(key, b)
		if err != nil {
			rep.Problemf("%s: key rotation statement: %v", key, err)
			return nil
		}
		allowed[r.From.KeyID] = append(allowed[r.From.KeyID], r.To.KeyID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", RotationsPrefix, err)
	}
	return allowed, nil
}

// Rotated reports whether statements lead from key id from to key id to, directly or
// through intermediate keys (a chain not signed at all while an intermediate key was in use
// skips it).
func Rotated(allowed map[string][]string, from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, n := range allowed[k] {
			if n == to {
				return true
			}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return false
}

// longestKept is when the lock of the longest-kept manifest sealed so far ends: the end of
// each organization's newest sealed day plus its retention (the organization's). The
// newest day is the chain head's, unless the head is a revision of an older day committed
// last (a rerun; in layout 3 a late commit): then the days listed after the head's day
// (ListDays, one listing that is empty in the usual case) name it, and its latest
// manifest is read for its retention.
func (l Ledger) longestKept(ctx context.Context) (time.Time, error) {
	var longest time.Time
	keep := func(day Day, retention int) {
		if retention <= 0 {
			return
		}
		if until := day.End().AddDate(0, 0, retention); until.After(longest) {
			longest = until
		}
	}
	err := l.Orgs(ctx, func(org string) error {
		head, err := l.Head(ctx, org)
		if err != nil || head == nil {
			return err
		}
		day, err := ParseDay(head.Date)
		if err != nil {
			return nil // verify reports it
		}
		keep(day, head.RetentionDays)
		var newest string
		if err := l.ListDays(ctx, org, day.Next(), func(k DayKeys) error {
			if k.Revision != "" {
				newest = k.Revision
			}
			return nil
		}); err != nil {
			return fmt.Errorf("days after the chain head of %s: %w", org, err)
		}
		if newest == "" {
			return nil
		}
		m, err := l.readManifest(ctx, newest)
		if err != nil {
			return err
		}
		if d, err := ParseDay(m.Date); err == nil {
			keep(d, max(m.RetentionDays, head.RetentionDays))
		}
		return nil
	})
	return longest, err
}

// chainHeads returns every organization's chain head: the organizations from one listing
// of the folders of orgs/ (Ledger.Orgs), then each one's Head. Nothing lists the objects
// of every organization, and the layout of the chains is Head's business.
func (l Ledger) chainHeads(ctx context.Context) ([]*StoredManifest, error) {
	var heads []*StoredManifest
	err := l.Orgs(ctx, func(org string) error {
		m, err := l.Head(ctx, org)
		if err != nil {
			return fmt.Errorf("chain head of %s: %w", org, err)
		}
		if m != nil {
			heads = append(heads, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return heads, nil
}
