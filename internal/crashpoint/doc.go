// Package crashpoint names the places where the crash and fault tests stop, break or
// pause a chatvault process: after a line is read, after a sort run is spilled, after
// the quarantine, an export or a chain entry is stored, in the middle of writing an
// object, and so on.
//
// In an ordinary build every function here is a no-op the compiler inlines away, and
// Writer returns its argument: production binaries carry no kill switch. Built with
// `-tags crashpoints` (only the tests do that), four environment variables act on the
// named points, each as NAME:N, where N counts the point's hits from 1:
//
//	CHATVAULT_CRASH_AT=NAME:N  the process SIGKILLs itself at the N-th hit; a Writer first
//	                           writes half of that write's bytes, so a partial file is left
//	CHATVAULT_PAUSE_AT=NAME:N  at the N-th hit, print "crashpoint: paused at NAME:N" to
//	                           stderr and wait for a line on stdin (the test changes the
//	                           world meanwhile, then lets the process go on)
//	CHATVAULT_FULL_AT=NAME:N   from the N-th hit of a Writer on, every write fails with
//	                           ENOSPC, as on a full disk
//	CHATVAULT_PANIC_AT=NAME:N  the N-th hit panics with "crashpoint: NAME:N" (a bug), on
//	                           whichever goroutine hits it
//
// The points are listed in Points; a test that names another one is told so.
package crashpoint

// Points are the named points, and where they are hit.
var Points = map[string]string{
	"read.line":            "archiver: a line of the partition was read (hit per line)",
	"sort.spill":           "archiver: a sorted run was written to export.tempDir",
	"merge.record":         "archiver: the merge is about to hand on a record (hit per record)",
	"store.quarantine":     "archiver: the day's quarantine object was stored",
	"store.export":         "archiver: an organization's export was stored (into the store's batch, on the folder store), its manifest not yet",
	"commit.chain":         "archiver: a manifest's chain entry (the commit) was stored, its day index not yet",
	"commit.index":         "archiver: a manifest's day index was stored",
	"commit.late":          "archiver: layout 3: a late commit's copy under late/ (the commit) was stored, its day key not yet",
	"commit.day":           "archiver: layout 3: a manifest's day key was stored (the commit, or a late commit's day key)",
	"commit.accounting":    "archiver: every manifest of the run was committed, the day's accounting object not yet",
	"temp.write":           "archiver: a write to a file in export.tempDir (sort runs, staged exports) (Writer)",
	"stage.batch":          "archiver: an organization's staging goroutine took a batch of its records from the merge (hit per batch)",
	"gzip.block":           "archiver: a compressor goroutine starts on a block of an export (hit per block)",
	"fsstore.write":        "fsstore: a write to an object's temporary file (Writer)",
	"fsstore.flush.synced": "fsstore: a batch's objects were synced (syncfs), none linked to its key yet",
	"fsstore.flush.link":   "fsstore: a batch's object was linked to its key, the names not synced yet (hit per object)",
	"s3.part":              "s3: a part of a multipart upload was uploaded, the upload not completed",
	"attach.stage":         "attach: a write to an attachment's staging file in export.tempDir (Writer)",
	"attach.fetched":       "attach: an attachment was fetched and staged, not stored yet (hit per file)",
	"attach.file":          "attach: an attachment was stored, its URL record not yet (hit per file)",
	"attach.url":           "attach: an attachment's URL record was stored (hit per file)",
	"attach.index":         "attach: the day's attachments were stored, its index revision not yet",
	"synth.files":          "synth: gen wrote every part file of the day, its _CLOSED marker not yet",
	"output.write":         "cmd: a write to a command's -o file (export, export-task, witness, keys generate) (Writer)",
}
