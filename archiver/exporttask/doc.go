// Package exporttask runs on-demand exports: an organization asks for a date range,
// optionally narrowed to some chats or users, in a format (jsonl built in; html and rsmf
// plugged in by cmd/chatvault), and gets a task id; a bounded pool of workers reads the
// sealed days of the range, filters their records, encodes them, and stores the result.
//
// A task's state lives in the store as create-only objects, so that a restart finds every
// task where it was:
//
//	tasks/<org>/<taskId>/request.json           what was asked, by whom, when
//	tasks/<org>/<taskId>/attempt-<nnnn>.json    each start of a run
//	tasks/<org>/<taskId>/claim-<nnnnnnnn>.json  who runs it, until when (see claim.go)
//	tasks/<org>/<taskId>/handback-<nnnn>.json   attempt n was cut short by a shutdown
//	tasks/<org>/<taskId>/outcome-<nnnnnnnn>.json the outcome claim link n commits (see Engine.finish)
//	tasks/<org>/<taskId>/result-<sha256><ext>   the result, named by its hash
//	tasks/<org>/<taskId>/completed.json         size, events, SHA-256, source days and their manifest hashes
//	tasks/<org>/<taskId>/failed.json            why it failed
//
// A task without completed.json or failed.json is queued; on start, and every
// ScanInterval, the engine queues every such task that no replica holds. Several replicas
// may share a store: a task is run by the one whose create-only claim wins, which renews it
// while it runs; a replica that dies lets it expire, and another takes the task over. A
// shutdown hands the task back (handback, then a released claim) and does not count as a
// failed attempt. Queued tasks take turns across organizations, and an organization may
// have at most MaxTasksPerOrg queued or running. Results are deterministic (the same
// sealed days give the same bytes), so running a task again after a crash is safe. After Options.Retention the result is deleted
// (archiver.Deleter, keys under tasks/ only) and the task reads as expired.
//
// Download links are signed by the server (Links): every call makes a new one, valid for
// Links.Expiry, that the API serves without a token. A link whose signed expiry lies beyond
// now plus Links.Expiry (and LinkClockSkew) is refused even though its signature checks.
// The key is the caller's (cmd/chatvault reads exports.linkKeyFile); it is never kept in
// the store, whose readers must not be able to mint links.
package exporttask
