package archiver

import (
	"fmt"
	"sync/atomic"
)

// checkSigner keeps a run from committing an unsigned manifest onto a signed chain.
// Manifests are never replaced, and no statement can make a chain that goes from signed to
// unsigned verify again (a forger who holds no key produces exactly that), so one such
// manifest, from a cron job that lost signing.keyFile, would make verify report the chain
// for as long as the archive exists. Refusing the commit leaves the day to a rerun with the
// key. A change to another key is left to verify: a rotation statement recorded afterwards
// (chatvault keys rotate) accounts for it, and when the old key is lost no statement can
// be made, but sealing must go on.
func (w *writer) checkSigner(head *StoredManifest) error {
	if head == nil || w.s.SigningKey != nil {
		return nil
	}
	_, headID, err := signerKey(head.Manifest)
	if err != nil || headID == "" {
		return nil // unsigned, or a signature verify already reports as broken
	}
	return fmt.Errorf("the organization's chain is signed by key %s (manifest %d) but this run has no signing key: "+
		"an unsigned manifest would break the chain's signatures for good; set signing.keyFile and rerun", headID, head.Seq)
}

// signedChains notes that a chain this run found has a signed head (noteSigner), for
// checkNewChain.
type signedChains struct{ seen atomic.Bool }

// noteSigner records whether head, an organization's chain head found by this run, is
// signed.
func (w *writer) noteSigner(head *StoredManifest) {
	if head == nil {
		return
	}
	if _, id, err := signerKey(head.Manifest); err == nil && id != "" {
		w.signed.seen.Store(true)
	}
}

// checkNewChain refuses to start an organization's chain unsigned when the run has no
// signing key and found another organization's chain signed: the archive is signed, and
// a manifest 1 without a signature would be reported by verify with the trusted key for
// as long as the archive exists (an organization that starts archiving on the night the
// key went missing). It runs once every organization was staged.
func (w *writer) checkNewChain(c *orgCommit) error {
	if c.headSeq > 0 || w.s.SigningKey != nil || !w.signed.seen.Load() {
		return nil
	}
	return fmt.Errorf("the archive's other chains are signed but this run has no signing key: the organization's " +
		"first manifest would be unsigned for good; set signing.keyFile and rerun")
}
