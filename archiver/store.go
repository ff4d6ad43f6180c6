package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) when an object does not exist.
var ErrNotFound = errors.New("object not found")

// ErrConflict is returned (wrapped) by Store.Create when the key already holds different
// bytes. The existing object is left untouched: nothing is ever overwritten.
var ErrConflict = errors.New("object exists with different content")

// ErrStoreBusy is matched by the error of a store request that the store kept refusing
// for load (S3's 503 SlowDown) until the request's attempts ran out: the store is
// throttling, not failing, and the same request may succeed later. The API answers it
// 503 unavailable with Retry-After.
var ErrStoreBusy = errors.New("the store is throttling requests (S3 503 SlowDown): try again later")

// ErrStoreUnreachable is matched by the error of a store request that got no answer, or
// only server errors, until its attempts ran out: the store is down or cut off (S3 on
// the other side of a broken network, a 500 for every request). A seal that meets it for
// several organizations in a row stops trying the others (breaker.go).
var ErrStoreUnreachable = errors.New("the store is unreachable")

// TasksPrefix starts the keys of on-demand export tasks (package exporttask). It is the
// only part of a store's content whose objects may ever be deleted: task results are
// copies of sealed days made for one investigation, kept for a retention period and then
// removed (see Deleter; the sealers' own leases and watermarks may be too: Deletable).
// Sealed days, manifests, quarantine and audit records never are.
const TasksPrefix = "tasks/"

// Deleter is the one deletion a store may offer: Delete removes the object at key, which
// must start with TasksPrefix (or be one of the sealers' own state: Deletable); any other
// key is refused with an error, whatever the caller. A missing key gives an error wrapping ErrNotFound.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// CreateOptions describe how a new object is to be kept.
type CreateOptions struct {
	// RetainUntil, when not zero, is the earliest time the object may be deleted. Stores
	// that can enforce it do (S3 Object Lock in COMPLIANCE mode); the folder store cannot,
	// and relies on read-only files and the operator's permissions.
	RetainUntil time.Time
	// Extend, for a content-named object that several days share (a members object),
	// asks a store that locks objects to lengthen the lock of an object already there with
	// the same bytes to RetainUntil, never shortening it: Create then writes nothing, and
	// the object must still be kept as long as the latest day that names it.
	Extend bool
	// Batch, when not nil, defers the object's durability and visibility to the batch's
	// Flush (Batcher). Only the Store that made the batch may be given it.
	Batch Batch
}

// Store is write-once object storage: the local folder (fsstore) or S3 (s3).
//
// Keys are slash-separated, relative, and made only by this package (see keys.go);
// implementations may still refuse keys that could escape their root.
type Store interface {
	// Create stores size bytes read from body under key, once. sum is the SHA-256 of those
	// bytes, known to the caller; Create checks what it wrote against it and leaves nothing
	// behind on a mismatch, a short body or any other failure.
	//
	// If key already exists with the same SHA-256, Create succeeds without writing: reruns
	// are idempotent. If it exists with other bytes, Create returns an error wrapping
	// ErrConflict and never replaces the object. Concurrent Creates of one key: exactly one
	// writes; the others behave as above.
	//
	// opt carries what a store may enforce beyond create-once (see CreateOptions).
	Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt CreateOptions) error

	// Open returns the object's bytes; the caller closes the reader. A missing key gives an
	// error wrapping ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, error)

	// List calls fn with every key that starts with prefix, in lexical (byte) order, until
	// fn returns an error, which List returns. Objects still being written are not listed.
	List(ctx context.Context, prefix string, fn func(key string) error) error
}

// AfterLister is a Store that can start a listing part-way: S3's ListObjectsV2 StartAfter,
// or a folder read that skips the names before it. Finding the days after an
// organization's last sealed one, or a range of days, then costs what is listed from
// there on, not the whole folder's history (see ListAfter).
type AfterLister interface {
	// ListAfter is List restricted to the keys that sort after startAfter (byte order,
	// strictly greater): it calls fn with every key that starts with prefix and is greater
	// than startAfter, in lexical order, until fn returns an error, which it returns.
	ListAfter(ctx context.Context, prefix, startAfter string, fn func(key string) error) error
}

// ListAfter calls fn with every key of s that starts with prefix and sorts after startAfter,
// in lexical order, until fn returns an error. A store that is an AfterLister answers
// with a listing that starts there (one request, or one folder read, from startAfter on);
// any other store is listed from the start of prefix and the keys up to startAfter are
// dropped here, which costs what List costs but gives the same keys.
func ListAfter(ctx context.Context, s Store, prefix, startAfter string, fn func(key string) error) error {
	if al, ok := s.(AfterLister); ok {
		return al.ListAfter(ctx, prefix, startAfter, fn)
	}
	return s.List(ctx, prefix, func(key string) error {
		if key <= startAfter {
			return nil
		}
		return fn(key)
	})
}

// ErrStopListing, returned by a listing's callback, ends the listing early; the helpers of
// this package that take such callbacks return nil for it.
var ErrStopListing = errors.New("stop listing")

// ReadAll reads the object at key whole: for the small objects (manifests, accounting
// objects, audit segments, checkpoints) that the root and the packages reading the
// archive (archiver/verify, archiver/audit) decode in one piece. An object bigger than
// its kind's cap (ObjectKind) is refused with an *ObjectTooLargeError, read no further.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) { return readAll(ctx, s, key) }

func readAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readCapped(rc, key)
}
