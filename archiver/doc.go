// Package archiver is chatvault's domain: the pipeline that seals a UTC day of the
// platform's event log into per-organization, write-once, hash-chained exports, and the
// small interfaces it consumes (Source, Store).
//
// archiver never imports its sub-packages; they are adapters named after their technology
// (eventlog, fsstore, s3, httpapi, …) and cmd/chatvault wires them together.
package archiver
