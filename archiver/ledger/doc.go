// Package ledger reads what has been committed to a Store: each organization's chain of
// manifests and the day objects they name, the day-level accountings, legal holds,
// revisions, key rotation statements and the witness's records. Everything that looks
// back at history goes through a Ledger: serve's API, status, export tasks, verify, the
// audit, attachment capture and the scheduler.
//
// The ledger depends on package archiver for the domain (days, manifests, the Store and
// the key layout) and never the other way round: the seal pipeline reads the chains it
// appends to through archiver.Chain, an interface defined where it is used, which a
// Ledger over the sealer's Store satisfies (cmd/chatvault wires it:
// archiver.Sealer{Store: store, Chain: ledger.Ledger{Store: store}}).
//
// Lookups grow with the answer, not with the history: a chain's head starts from a
// remembered hint or the last key of a bounded listing (Head), a day's manifest is one
// listing of the day's prefix (Latest, DayKeys), and a range of days is one listing that
// starts after the range's first day (ListDays, Status). docs/design/layout.md has the
// layout they rely on.
package ledger
