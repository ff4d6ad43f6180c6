// Package audit is chatvault's access audit: who fetched which export, when, and what was
// sent. Records are buffered and written as per-organization, hash-chained, optionally
// signed segments (audit/orgs/<org>/<date>/<seq>.jsonl); Log writes and lists them,
// Verifier verifies the chains for ledger.Ledger.Verify, and Heads gives the chain
// heads a witness publishes.
//
// It consumes the root archiver package (Store, Day, signatures); the root never imports
// it: cmd/chatvault wires it into serve, verify and witness.
package audit
