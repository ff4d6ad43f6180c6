package archiver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// ErrObjectTooLarge is wrapped by every ObjectTooLargeError.
var ErrObjectTooLarge = errors.New("object larger than its kind's cap")

// ObjectTooLargeError is returned when an object read whole (a control object: manifest,
// accounting object, audit segment, checkpoint, …) is bigger than the cap of its kind.
// Anyone who can write to the store, with no key, can put a huge object under such a key;
// reading it whole would exhaust memory (a crash, not a reported problem). The reader
// stops at Cap+1 bytes, so a refusal costs at most the cap in memory.
type ObjectTooLargeError struct {
	Key  string
	Kind string
	Cap  int64
}

func (e *ObjectTooLargeError) Error() string {
	return fmt.Sprintf("%s: %s larger than its cap of %d bytes: refused unread (no legitimate %s comes near it; "+
		"someone with write access to the store put it there, or the store is damaged)", e.Key, e.Kind, e.Cap, e.Kind)
}

func (e *ObjectTooLargeError) Unwrap() error { return ErrObjectTooLarge }

// Caps of the objects read whole, by kind. Each is far above the largest legitimate object
// at 10,000 organizations over years, so that none is ever refused in service, and low
// enough that reading up to it is harmless (a process may hold a few at once):
//
//   - manifest (day manifests, chain entries, late copies, revisions): a few KiB plus an
//     inline chat index, which is at most MaxInlineChatIndex (64 KiB) encoded: 16 MiB.
//   - accounting object: one AccountedManifest (~300 bytes) per organization of the day
//     or shard: ~3 MB at 10,000 organizations; 256 MiB is ~800,000 organizations.
//   - audit segment: one organization's records of one flush window, at most
//     audit.maxPending (10,000 by default) records of well under 1 KiB: ~10 MB; 256 MiB.
//   - chat index and members object: a few hundred bytes per chat or member of an
//     organization-day (or year): 256 MiB is over a million chats.
//   - attachment index: one entry (~300 bytes) per captured file of an organization-day:
//     256 MiB is ~800,000 files a day.
//   - checkpoint: one head (~300 bytes) per organization: 64 MiB is ~200,000 organizations.
//   - layout marker, lease, task request or completion, hold event, key
//     rotation, audit day index: tens to hundreds of bytes: 1 MiB.
//   - anything else read whole: 64 MiB.
//
// Tests lower them (objectCaps is a variable for that only).
var objectCaps = map[string]int64{
	"manifest":         16 << 20,
	"accounting":       256 << 20,
	"audit segment":    256 << 20,
	"chat index":       256 << 20,
	"members object":   256 << 20,
	"attachment index": 256 << 20,
	"checkpoint":       64 << 20,
	"small record":     1 << 20,
	"control object":   64 << 20,
}

// ObjectKind returns the kind of the object at key and the most bytes it may have (see
// objectCaps). The ledger is the one place that knows keys, so it classifies them here.
func ObjectKind(key string) (kind string, max int64) {
	kind = objectKind(key)
	return kind, objectCaps[kind]
}

func objectKind(key string) string {
	switch {
	case key == LayoutKey, strings.HasPrefix(key, LeasesPrefix), strings.HasPrefix(key, TasksPrefix), strings.HasPrefix(key, HoldsPrefix), strings.HasPrefix(key, RotationsPrefix),
		key == "audit/days-since.json", strings.HasPrefix(key, "audit/days/"):
		return "small record"
	case strings.HasPrefix(key, AccountingPrefix):
		return "accounting"
	case strings.HasPrefix(key, "audit/"):
		return "audit segment"
	case strings.HasPrefix(key, "verifications/"):
		return "checkpoint"
	case strings.HasPrefix(key, AttachmentsPrefix):
		return "attachment index"
	case strings.Contains(key, "/members/"):
		return "members object"
	case strings.Contains(key, "chatindex-"):
		return "chat index"
	case strings.HasPrefix(key, OrgsPrefix), strings.HasPrefix(key, "revisions/"):
		return "manifest"
	}
	return "control object"
}

// readCapped reads r whole, refusing (ObjectTooLargeError naming key) past key's cap.
func readCapped(r io.Reader, key string) ([]byte, error) {
	kind, max := ObjectKind(key)
	return readCappedAs(r, key, kind, max)
}

// sizedReader is a reader that knows how many bytes it holds before it is read: an S3
// answer's Content-Length (the s3 package's bodies) or a file's size (Stat).
type sizedReader interface{ Size() int64 }

// readerSize is the size r says it holds, -1 when it says nothing.
func readerSize(r io.Reader) int64 {
	switch v := r.(type) {
	case sizedReader:
		return v.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}

// readCappedAs reads r, the object name of kind, whole, refusing past max bytes. A read
// up to a cap must cost at most the cap in memory, and io.ReadAll costs about twice what
// it reads (its chunks, then their copy into one slice): twice the cap for a refusal, or
// for an object at the cap. So an object whose reader says its size is refused unread
// when that is over the cap, and otherwise read into one slice of that size (and one byte
// to see the end); one whose reader does not say, or that holds more than it said, is
// read in chunks that together never exceed the cap and one byte, and only an object
// within the cap, in more than one chunk, is copied into one slice (its size twice, under
// the cap).
func readCappedAs(r io.Reader, name, kind string, maxBytes int64) ([]byte, error) {
	tooLarge := &ObjectTooLargeError{Key: name, Kind: kind, Cap: maxBytes}
	limit := maxBytes + 1 // what is read at most: one byte past the cap tells it is over
	size := readerSize(r)
	if size > maxBytes {
		return nil, tooLarge
	}
	first := min(512, limit)
	if size >= 0 {
		first = size + 1
	}
	b := make([]byte, 0, first)
	var chunks [][]byte
	total := int64(0) // the bytes in chunks
	next := int64(cap(b))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if total+int64(len(b)) > maxBytes {
			return nil, tooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(b) == cap(b) {
			// Full: a new chunk, growing geometrically as io.ReadAll's do, but never past
			// what the cap leaves.
			chunks = append(chunks, b)
			total += int64(len(b))
			next = min(max(next+next/2, 4096), limit-total)
			b = make([]byte, 0, next)
		}
	}
	if len(chunks) == 0 {
		return b, nil
	}
	out := make([]byte, 0, total+int64(len(b)))
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, b...), nil
}

// ReadCappedAs reads r, the object name of kind, whole, within max bytes
// (ObjectTooLargeError past it): for objects outside the store, whose name says nothing
// of their kind (the event log's directory snapshot).
func ReadCappedAs(r io.Reader, name, kind string, max int64) ([]byte, error) {
	return readCappedAs(r, name, kind, max)
}

// DirectoryCap is the most bytes of a directory snapshot read whole: far above the
// largest expected (43 MB at 4M events a day, growing with users and chats, not days),
// and what a process may hold at once while it decodes one.
const DirectoryCap = 1 << 30

// ReadCapped reads r, the object at key, whole, within the cap of key's kind (ObjectKind):
// for readers outside the root that open an object themselves.
func ReadCapped(r io.Reader, key string) ([]byte, error) { return readCapped(r, key) }

// CheckDeclaredSize refuses, before a byte is read, an object a manifest names with a
// size past its kind's cap: the read is bounded by the size the manifest declares, and a
// manifest written without the signing key can declare any size.
func CheckDeclaredSize(key string, size int64) error {
	if kind, max := ObjectKind(key); size > max {
		return &ObjectTooLargeError{Key: key, Kind: kind, Cap: max}
	}
	return nil
}
