// Package s3 keeps chatvault's archive, and reads its event log, in Amazon S3 or an
// S3-compatible server (MinIO), with aws-sdk-go-v2.
//
// Store is the write-once archiver.Store. Every create carries `If-None-Match: *`, so S3
// itself refuses to replace an object; when it does refuse (412), Store compares the stored
// object's SHA-256, kept in its metadata, with the caller's: equal is a rerun and succeeds,
// different is archiver.ErrConflict. Every upload sends an explicit SHA-256 checksum (per
// part for multipart uploads) that S3 verifies before it keeps the bytes. Bodies up to
// PartSize go in one PutObject; larger ones stream as a multipart upload. Every upload
// draws on the store's Concurrency buffers of PartSize, so memory stays within PartSize x
// Concurrency whatever the objects' sizes and their number. A failed multipart upload is
// aborted so no parts are left behind. Each object carries the Content-Type of its key's
// extension (application/gzip, application/json, application/x-ndjson, application/zip,
// text/html), which S3 returns on every download. When the bucket has Object Lock enabled, each object is created in
// COMPLIANCE mode until the retain-until date the archiver asks for.
//
// EventLog is the archiver.Source of an event log under an S3 prefix, read with the same
// line scanner as the folder event log (eventlog.Dir).
//
// Nothing above this package knows the SDK: cmd/chatvault builds a client with NewClient
// from the s3.* settings and hands it to NewStore and NewEventLog.
package s3
