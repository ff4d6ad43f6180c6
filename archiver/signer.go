package archiver

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
)

// signerCheck keeps a run from committing a manifest that would break its organization's
// chain of signatures. Manifests are never replaced, so one committed unsigned after
// signed ones (a cron job that lost signing.keyFile), or signed by a key that no recorded
// rotation leads to (signing.keyFile pointed at a new key before chatvault keys rotate),
// would make verify report the chain for as long as the archive exists, exactly as a
// forger's manifest would. Refusing the commit leaves the day to a rerun with the right
// key. The rotation statements are read once per run, when a chain first needs them.
type signerCheck struct {
	once    sync.Once
	allowed map[string][]string
	err     error
}

// checkSigner returns an error when the manifest this run would append to head's chain
// breaks its signatures: head is signed and this run signs with no key, or with another
// key than head's and no rotation statement leads from head's key to it. An unsigned chain
// may start being signed at any time.
func (w *writer) checkSigner(ctx context.Context, head *StoredManifest) error {
	if head == nil {
		return nil
	}
	_, headID, err := signerKey(head.Manifest)
	if err != nil || headID == "" {
		return nil // unsigned, or a signature verify already reports as broken
	}
	if w.s.SigningKey == nil {
		return fmt.Errorf("the organization's chain is signed by key %s (manifest %d) but this run has no signing key: "+
			"an unsigned manifest would break the chain's signatures for good; set signing.keyFile and rerun", headID, head.Seq)
	}
	id := KeyID(w.s.SigningKey.Public().(ed25519.PublicKey))
	if id == headID {
		return nil
	}
	sc := &w.signers
	sc.once.Do(func() {
		// A statement that does not verify allows nothing; verify reports it.
		sc.allowed, sc.err = Ledger{Store: w.s.Store}.rotations(ctx, &VerifyReport{})
	})
	if sc.err != nil {
		return fmt.Errorf("read key rotations: %w", sc.err)
	}
	if !rotated(sc.allowed, headID, id) {
		return fmt.Errorf("the organization's chain is signed by key %s (manifest %d) and this run's key is %s, with no recorded rotation "+
			"from one to the other: record it first with chatvault keys rotate --key OLD --new-key NEW, or point signing.keyFile back at key %s",
			headID, head.Seq, id, headID)
	}
	return nil
}
