package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// RotationVersion is the version of the key rotation statements written: 2 records the
// chain heads (version 1 statements, which do not, still verify, and bound nothing).
const RotationVersion = 2

func rotationKey(from, to string) string { return archiver.RotationsPrefix + from + "-" + to + ".json" }

func encodeRotation(r *archiver.KeyRotation) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key rotation: %w", err)
	}
	return append(b, '\n'), nil
}

// RecordRotation stores, create-only, the statement that signing passes from key from to
// key to, signed by both. It returns the statement's key. Recording the same rotation
// twice fails with ErrConflict (the first statement stands).
func (l Ledger) RecordRotation(ctx context.Context, from, to ed25519.PrivateKey, reason string, now time.Time, opt archiver.CreateOptions) (string, error) {
	fromPub, toPub := from.Public().(ed25519.PublicKey), to.Public().(ed25519.PublicKey)
	if bytes.Equal(fromPub, toPub) {
		return "", errors.New("key rotation: the new key is the old key")
	}
	// Where the old key's use ends: every organization's chain head now. A run still
	// signing with the old key that commits after this (one started before the
	// rotation) is on no head here, and verify reports its manifest as signed after the
	// key was retired: rotate when no run seals with the old key.
	heads, err := l.chainHeads(ctx)
	if err != nil {
		return "", fmt.Errorf("record key rotation: %w", err)
	}
	r := &archiver.KeyRotation{
		Version:   RotationVersion,
		From:      archiver.RotatingKey{KeyID: archiver.KeyID(fromPub), PublicKey: base64.StdEncoding.EncodeToString(fromPub)},
		To:        archiver.RotatingKey{KeyID: archiver.KeyID(toPub), PublicKey: base64.StdEncoding.EncodeToString(toPub)},
		RotatedAt: now.UTC().Format(time.RFC3339),
		Reason:    reason,
	}
	for _, h := range heads {
		r.Heads = append(r.Heads, archiver.RotationHead{Org: h.Org, Seq: h.Seq, SHA256: archiver.HexSum(h.SHA256)})
	}
	slices.SortFunc(r.Heads, func(a, b archiver.RotationHead) int { return strings.Compare(a.Org, b.Org) })
	body, err := encodeRotation(r)
	if err != nil {
		return "", err
	}
	for _, k := range []ed25519.PrivateKey{from, to} {
		r.Signatures = append(r.Signatures, *archiver.NewSignature(k, body))
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
		if errors.Is(err, archiver.ErrConflict) {
			// A rerun of the same rotation: the store's "different content" and two hashes
			// read as tampering; say what is there instead.
			if old, rerr := archiver.ReadAll(ctx, l.Store, key); rerr == nil {
				if prev, cerr := checkRotation(key, old); cerr == nil {
					return "", fmt.Errorf("record key rotation: the rotation from key %s to key %s is already recorded in %s (rotated at %s); "+
						"a statement is made once: point signing.keyFile at the new key: %w", prev.From.KeyID, prev.To.KeyID, key, prev.RotatedAt, err)
				}
			}
		}
		return "", fmt.Errorf("record key rotation: %w", err)
	}
	return key, nil
}

// checkRotation verifies a stored statement: its key names its two key ids, each id names
// its public key, and both keys signed it.
func checkRotation(key string, b []byte) (*archiver.KeyRotation, error) {
	// The version first: a newer chatvault's statement (after a roll-back) carries fields
	// this build does not know, and "unknown field" alone read as a damaged statement.
	var probe struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(b, &probe) == nil && probe.Version > RotationVersion {
		return nil, fmt.Errorf("unsupported version %d: written by a newer chatvault (this build reads versions 1 to %d); verify the store with that version", probe.Version, RotationVersion)
	}
	var r archiver.KeyRotation
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if r.Version != 1 && r.Version != RotationVersion {
		return nil, fmt.Errorf("unsupported version %d", r.Version)
	}
	if r.Version == 1 && r.Heads != nil {
		return nil, errors.New("version 1 with chain heads")
	}
	r.StoredKey, r.HeadIndex = key, make(map[string]archiver.RotationHead, len(r.Heads))
	for i, h := range r.Heads {
		if h.Org == "" || h.Seq < 1 || len(h.SHA256) != 2*sha256.Size || (i > 0 && r.Heads[i-1].Org >= h.Org) {
			return nil, fmt.Errorf("malformed chain head %+v", h)
		}
		r.HeadIndex[h.Org] = h
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
	for i, k := range []archiver.RotatingKey{r.From, r.To} {
		pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize || archiver.KeyID(pub) != k.KeyID {
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
func (l Ledger) Rotations(ctx context.Context, rep archiver.Findings) (map[string][]string, error) {
	stmts, err := l.RotationStatements(ctx, rep)
	if err != nil {
		return nil, err
	}
	return RotationGraph(stmts), nil
}

// RotationGraph returns the changes of key the statements allow, old key id to new key ids.
func RotationGraph(stmts []*archiver.KeyRotation) map[string][]string {
	allowed := map[string][]string{}
	for _, r := range stmts {
		allowed[r.From.KeyID] = append(allowed[r.From.KeyID], r.To.KeyID)
	}
	return allowed
}

// RotationStatements reads every rotation statement of the store and returns those that
// verify. One that does not is a problem in rep (nil: not reported): it is either damaged
// or forged, and allows nothing. So is one signed with a key another statement had
// retired (see retiredStatements).
func (l Ledger) RotationStatements(ctx context.Context, rep archiver.Findings) ([]*archiver.KeyRotation, error) {
	var stmts []*archiver.KeyRotation
	err := l.Store.List(ctx, archiver.RotationsPrefix, func(key string) error {
		b, err := archiver.ReadAll(ctx, l.Store, key)
		if err != nil {
			return err
		}
		if rep != nil {
			rep.Read(1, int64(len(b)))
		}
		r, err := checkRotation(key, b)
		if err != nil {
			if rep != nil {
				rep.Problemf("%s: key rotation statement: %v", key, err)
			}
			return nil
		}
		stmts = append(stmts, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", archiver.RotationsPrefix, err)
	}
	retired := retiredStatements(stmts) // retiredkey.go
	if len(retired) == 0 {
		return stmts, nil
	}
	kept := stmts[:0:0]
	for _, r := range stmts {
		s := retired[r]
		if s == nil {
			kept = append(kept, r)
			continue
		}
		if rep != nil {
			rep.Problemf("%s: key rotation statement signed with a key the statement %s had retired (from %s to %s, with no rotation back "+
				"to it between them): what a thief of the retired key would write; it allows nothing", r.Key(), s.Key(), s.From.KeyID, s.To.KeyID)
		}
	}
	return kept, nil
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
	keep := func(day archiver.Day, retention int) {
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
		day, err := archiver.ParseDay(head.Date)
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
		if d, err := archiver.ParseDay(m.Date); err == nil {
			keep(d, max(m.RetentionDays, head.RetentionDays))
		}
		return nil
	})
	return longest, err
}

// chainHeads returns every organization's chain head: the organizations from one listing
// of the folders of orgs/ (Ledger.Orgs), then each one's Head. Nothing lists the objects
// of every organization, and the layout of the chains is Head's business.
func (l Ledger) chainHeads(ctx context.Context) ([]*archiver.StoredManifest, error) {
	var heads []*archiver.StoredManifest
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
