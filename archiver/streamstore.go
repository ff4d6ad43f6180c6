package archiver

import (
	"context"
	"crypto/sha256"
	"io"
)

// StreamCreator is a Store that can take an object whose key, size and SHA-256 are known
// only once it has been written: a seal compresses each organization's export straight
// into it instead of staging the export in export.tempDir and copying it in with Create
// (which reads and hashes every byte a second time). The folder store offers it; S3 needs
// size and checksum before an upload starts, so exports to S3 stay staged.
type StreamCreator interface {
	// CreateStream begins a new object in the folder dir (a key's path.Dir). Nothing is
	// visible under any key until Commit; Abort, or a crash, leaves nothing that List or
	// Open would show.
	CreateStream(ctx context.Context, dir string) (StreamObject, error)
}

// StreamObject is an object being written by CreateStream.
type StreamObject interface {
	io.Writer
	// ReaderAt reads back the bytes written so far (the revision check compares them).
	io.ReaderAt
	// Commit makes the bytes written durable under key, which must be in the folder the
	// object was begun in, as Create would: size must be the number of bytes written and
	// sum their SHA-256, which the caller computed as it wrote them. An existing key with
	// the same bytes succeeds without change; other bytes give an error wrapping
	// ErrConflict. It returns the version id where the store keeps versions.
	Commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, opt CreateOptions) (string, error)
	// Abort discards the object. After Commit it does nothing.
	Abort() error
}
