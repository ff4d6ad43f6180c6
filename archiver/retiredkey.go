package archiver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
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
	r.once.Do(func() { r.stmts, r.err = Ledger{Store: w.s.Store}.RotationStatements(ctx, nil) })
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
