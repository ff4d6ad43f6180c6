// Package archiver is chatvault's domain: the pipeline that seals a UTC day of the
// platform's event log into per-organization, write-once, hash-chained exports, the
// records it stores (manifests, accounting objects, chat indexes, hold and rotation
// statements) and how their keys are laid out, and the small interfaces it consumes
// (Source, Store, and Chain, its reads of the chains it appends to).
//
// archiver never imports its sub-packages. Package ledger reads what has been committed
// (and implements Chain); verify and audit check it; the others are adapters named after
// their technology (eventlog, fsstore, s3, httpapi, …); cmd/chatvault wires them together.
package archiver
