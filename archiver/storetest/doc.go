// Package storetest is the conformance suite for archiver.Store. Every implementation (the
// local folder, S3) runs the same tests, so the archiver can rely on the contract written on
// the interface rather than on whichever backend it was tested with:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) archiver.Store { return newEmptyStore(t) })
//	}
//
// The suite checks what the archive's invariants depend on: objects are created once and
// never replaced, reruns with the same bytes are no-ops, failed or cancelled writes leave
// nothing behind, concurrent writers of one key agree on one winner, and List reports keys
// in byte order (ListAfter too, from a given key).
//
// RunLookups checks, with Counting (a Store wrapper that counts requests by kind and the
// keys its listings return), that the ledger's lookups on that store grow with what they
// answer, not with the store's history: growth laws are tested by counting, never by
// timing.
package storetest
