package archiver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"time"
)

// retiredKeys reads, once per run, the store's rotation statements (checkRetired).
type retiredKeys struct {
	once  sync.Once
	stmts []*KeyRotation
	err   error
}

// checkRetired keeps a run signing with a key that was rotated away from committing a
// manifest verify would report for good. A statement that records the chain heads ends the
// old key's use at each organization's head when it was made (RetiredBy): a manifest the
// old key signs further along, on any chain, is what a thief of that key would write, and
// verify reports it as such. An older statement (version 1) bounds nothing, but verify
// accepts a change of key only along a statement, from the old key to the new: a manifest
// signed by the retired key after one signed by its successor is a change back that no
// statement accounts for. The run that does either is a replica or cron job not switched
// to the new key yet, or one that loaded its key before keys rotate: refusing leaves the
// day to a run with the new key. A key rotated back to, by a later statement, signs again.
func (w *writer) checkRetired(ctx context.Context, org string, head *StoredManifest) error {
	if w.s.SigningKey == nil {
		return nil
	}
	mine := KeyID(w.s.SigningKey.Public().(ed25519.PublicKey))
	r := &w.retired
	r.once.Do(func() { r.stmts, r.err = w.s.Chain.RotationStatements(ctx, nil) })
	if r.err != nil {
		return fmt.Errorf("key rotations: %w", r.err)
	}
	var seq int64 = 1
	if head != nil {
		seq = head.Seq + 1
	}
	if stmt := RetiredBy(r.stmts, mine, org, seq); stmt != nil {
		return fmt.Errorf("this run's key %s was rotated away (%s) when the organization's chain was at seq %d: "+
			"a manifest signed by it now, seq %d, is one verify reports as signed by a retired key for good; point signing.keyFile at the new key and rerun",
			mine, stmt.Key(), stmt.HeadSeq(org), seq)
	}
	if head == nil {
		return nil
	}
	_, headID, err := signerKey(head.Manifest)
	if err != nil || headID == "" || headID == mine {
		return nil // unsigned (checkSigner's case), or a signature verify reports
	}
	retired, back := "", false
	for _, s := range r.stmts {
		if s.From.KeyID == mine && retired == "" {
			retired = s.Key()
		}
		back = back || s.From.KeyID == headID && s.To.KeyID == mine
	}
	// Unless the key was rotated back to: a statement from the head's key to this one
	// accounts for the change.
	if retired == "" || back {
		return nil
	}
	return fmt.Errorf("the organization's chain is signed by key %s (manifest %d), and this run's key %s was rotated away (%s): "+
		"a manifest signed by it would change the chain back to a retired key, which verify reports for good; point signing.keyFile at the new key and rerun",
		headID, head.Seq, mine, retired)
}

// RetiredSkew is how much later than a rotation statement an object signed by the key it
// retired may be dated before RetiredAt counts it as made after the rotation: the host
// that sealed or audited and the one that recorded the rotation keep their own clocks.
const RetiredSkew = time.Hour

// RetiredAt returns the statement after which key id may no longer sign an object dated
// t, nil when the statements let it: a statement from id that records the chain heads
// (Bounded), dated more than RetiredSkew before t, with no statement rotating back to id
// made between the two. It bounds by date what RetiredBy cannot bound by place: an audit
// segment (its last record's time), an accounting object (its sealedAt). Those dates are
// the signer's to write: a replica still on the old key, or a thief of it who dates
// honestly, is caught; a thief who backdates is not (a statement fixes no audit head).
func RetiredAt(stmts []*KeyRotation, id string, t time.Time) *KeyRotation {
	for _, r := range stmts {
		if !r.Bounded() || r.From.KeyID != id {
			continue
		}
		at, ok := r.RotatedTime()
		if !ok || !at.Add(RetiredSkew).Before(t) {
			continue
		}
		restored := slices.ContainsFunc(stmts, func(b *KeyRotation) bool {
			bt, ok := b.RotatedTime()
			return b != r && b.Bounded() && b.To.KeyID == id && ok && !bt.Before(at) && !t.Before(bt)
		})
		if !restored {
			return r
		}
	}
	return nil
}

// RotatedTime is the statement's RotatedAt as a time; false when it does not parse.
func (r *KeyRotation) RotatedTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r.RotatedAt)
	return t, err == nil
}
