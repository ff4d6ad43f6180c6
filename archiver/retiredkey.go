package archiver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
)

// retiredKeys finds, once per run, the rotation statement that retired the run's signing
// key, if any (checkRetired).
type retiredKeys struct {
	once sync.Once
	stmt string // the statement's key, "" when the run's key was never rotated away
	err  error
}

// checkRetired keeps a run signing with a key that was rotated away from committing onto
// a chain another key now signs. verify accepts a change of key only along a rotation
// statement, from the old key to the new; a manifest signed by the retired key after one
// signed by its successor is a change back that no statement accounts for, reported for
// as long as the archive exists (and exactly what a thief of the old key would produce).
// The run that does this is a replica or cron job not switched to the new key yet, or
// one that loaded its key before keys rotate: refusing leaves the day to a run with the
// new key. A chain still signed by the retired key (no manifest of the new key yet) is
// left alone: the change to the new key, later, is the one the statement records.
func (w *writer) checkRetired(ctx context.Context, head *StoredManifest) error {
	if head == nil || w.s.SigningKey == nil {
		return nil
	}
	_, headID, err := signerKey(head.Manifest)
	if err != nil || headID == "" {
		return nil // unsigned (checkSigner's case), or a signature verify reports
	}
	mine := KeyID(w.s.SigningKey.Public().(ed25519.PublicKey))
	if headID == mine {
		return nil
	}
	r := &w.retired
	r.once.Do(func() {
		r.err = w.s.Store.List(ctx, RotationsPrefix+mine+"-", func(key string) error {
			if r.stmt == "" && strings.HasSuffix(key, ".json") {
				r.stmt = key
			}
			return nil
		})
	})
	if r.err != nil {
		return fmt.Errorf("list key rotations: %w", r.err)
	}
	if r.stmt == "" {
		return nil
	}
	// Unless the key was rotated back to: a statement from the head's key to this one
	// accounts for the change.
	back := false
	if err := w.s.Store.List(ctx, rotationKey(headID, mine), func(key string) error {
		back = back || key == rotationKey(headID, mine)
		return nil
	}); err != nil {
		return fmt.Errorf("list key rotations: %w", err)
	}
	if back {
		return nil
	}
	return fmt.Errorf("the organization's chain is signed by key %s (manifest %d), and this run's key %s was rotated away (%s): "+
		"a manifest signed by it would change the chain back to a retired key, which verify reports for good; point signing.keyFile at the new key and rerun",
		headID, head.Seq, mine, r.stmt)
}
