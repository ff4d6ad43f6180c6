// Package fsstore is the local folder implementation of archiver.Store, chatvault's default
// write-once storage.
//
// An object is a read-only regular file whose path below the root is its key. Objects are
// written to a hidden temporary file in the destination folder, checked against the
// caller's size and SHA-256, synced, and then hard-linked to their final name. A hard link,
// unlike a rename, fails when the name exists, which is what makes Create create-only: two
// writers racing for one key cannot replace each other, and a reader never sees a partial
// object. The object's folder is synced after the link, and each folder on the way
// whose name this Store has not yet made durable (once per process: Store.Syncs counts), so
// a committed object survives a power loss.
//
// A seal's exports, and the other objects its manifests name, go into a batch
// (archiver.Batcher) instead: each is written and checked but neither synced nor linked,
// and the batch's Flush syncs the file system once (syncfs), links them all, and syncs once
// more, before the first manifest is written. A day's thousands of objects then cost two
// syncs, not two each, and still no crash can leave a key naming bytes that were not all
// written: every link follows the sync of its file's bytes. syncfs writes back whatever is
// dirty on the store's file system, other programs' files too. Not on Linux, a batched
// create is an ordinary one.
//
// CreateStream (archiver.StreamCreator) writes an object whose key, size and SHA-256 are
// known only at the end, such as a seal's compressed export, into the same kind of
// temporary file; its Commit does the rest as Create does, so the bytes are written once
// instead of staged elsewhere and copied in.
//
// All access goes through an os.Root, so neither a key nor a symbolic link inside the
// folder can reach a file outside it.
//
// List and ListAfter read a folder's names and stat only those they keep: ListAfter drops
// the names that sort at or before its start by name alone and never enters a skipped
// sub-folder, so the days after an organization's last sealed one cost one read of the
// days folder's names and the new days, not a walk of every day.
//
// A crash between writing and linking leaves a temporary file (named ".tmp-…") behind: in
// the middle of a seal, one for each object of its batch not yet linked. List
// never reports one and keys may not name one. TemporariesBelow counts them and removes
// those of writers that are gone, which it tells by the owner file each writing Store
// holds locked until Close (temps.go): never a live writer's, however long its batch is
// pending.
//
// Because an object is a file and a key's leading segments are folders, a key cannot also be
// a folder of other keys: once "a/b" exists, "a/b/c" cannot be created, and the other way
// round (S3 would accept both). The archiver's keys must therefore never collide this way.
package fsstore
