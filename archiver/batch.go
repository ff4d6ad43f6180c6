package archiver

import "context"

// Batcher is a Store that can make many new objects durable together rather than one by
// one: the folder store, where each object's fsync (and its folder's) is a flush of the
// disk's cache, twelve per organization-day. A seal of a day of 50,000 organizations spent
// most of its time in them on disk (README, Performance). S3 makes each object durable
// before its PUT returns and has nothing to batch.
type Batcher interface {
	// NewBatch begins a batch. A Create, or a StreamObject's Commit, given the batch in
	// CreateOptions.Batch writes the object but neither shows nor makes it durable: until
	// the batch's Flush, Open and List do not see it, and a crash loses it (it leaves a
	// temporary file, as a crash in the middle of any create does). Such a create still
	// checks size and sum, and an existing key with the same bytes still succeeds without
	// writing; an existing key with other bytes may be found only by Flush.
	NewBatch() Batch
}

// Batch is a set of creates made durable and visible together (Batcher).
type Batch interface {
	// Flush makes every object created into the batch durable, and only then visible
	// under its key, so that no crash can leave a key naming bytes that were not all
	// written; when it returns, the keys are durable too. A seal flushes its exports
	// before it writes the first manifest that names one of them.
	//
	// failed holds the keys Flush could not create, with why (an existing key with other
	// bytes wraps ErrConflict); the others are created. err is set when Flush could not
	// make the batch durable: then no key is known to be durable, and those shown may be
	// lost in a crash. A Batch is flushed once, after its last create has returned.
	Flush(ctx context.Context) (failed map[string]error, err error)
	// Abort discards what was created into the batch and not flushed (a seal that failed
	// before its flush): nothing of it becomes visible, and its temporary files go. After
	// Flush it does nothing.
	Abort() error
}
