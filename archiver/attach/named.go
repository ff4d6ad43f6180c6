package attach

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// Which of an organization's days name a file (for GET /v1/exports/attachments/{sha256}):
//
//	attachments/<org>/named/<sha256>/<yyyy>-<mm>-<dd>     empty; the day's index names the file as captured
//
// One empty object per file and day, created (create-only, idempotent) before the index
// revision that first names the file for that day, so that every index naming a file has
// its record: a crash between the two leaves a record whose day names nothing, which the
// reader finds out by reading the day's index. The record itself is unsigned and proves
// nothing; it only says where to look, and what is served is what the signed index says.
// So serving one file costs a listing of its records (one per day naming it) and, for the
// first day whose latest index names it, one listing and one read of that index; never
// the organization's history.

// namedPrefix is the prefix of the records of the days of org that name the file sum.
func namedPrefix(org, sum string) string {
	return orgPrefix(org) + "named/" + sum + "/"
}

// namedKey is the record that org's day names the file sum.
func namedKey(org, sum string, day archiver.Day) string {
	return namedPrefix(org, sum) + day.String()
}

// emptySum is the SHA-256 of an empty record.
var emptySum = sha256.Sum256(nil)

// writeNamed records, before ix is stored, that its day names each file it captures that
// prev (the day's revision before it, nil for none) did not already capture.
func writeNamed(ctx context.Context, s archiver.Store, ix *Index, prev *Index, day archiver.Day, opt archiver.CreateOptions) error {
	done := map[string]bool{}
	if prev != nil {
		for _, e := range prev.Entries {
			if e.Outcome == Captured {
				done[e.SHA256] = true
			}
		}
	}
	for _, e := range ix.Entries {
		if e.Outcome != Captured || done[e.SHA256] {
			continue
		}
		done[e.SHA256] = true
		key := namedKey(ix.Org, e.SHA256, day)
		if err := s.Create(ctx, key, bytes.NewReader(nil), 0, emptySum, opt); err != nil && !errors.Is(err, archiver.ErrConflict) {
			return fmt.Errorf("attach: write %s: %w", key, err)
		}
	}
	return nil
}

// ParseSHA256 reads a file's name: 64 lower-case hex digits.
func ParseSHA256(s string) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	if len(s) != 2*sha256.Size || strings.ToLower(s) != s {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, false
	}
	return sum, true
}

// Reader serves an organization's attachment indexes and files (the HTTP API's
// attachment endpoints).
type Reader struct {
	Store archiver.Store
	// TrustedKeys, when set, are the keys an index must be signed by.
	TrustedKeys []ed25519.PublicKey
}

// LatestIndex returns the latest revision of org's index of day, its stored bytes
// checked (signature, key), or nil when the day has none.
func (r Reader) LatestIndex(ctx context.Context, org string, day archiver.Day) (*StoredIndex, []byte, error) {
	var last string
	if err := r.Store.List(ctx, IndexPrefix(org, day), func(key string) error {
		last = key
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("attach: list %s: %w", IndexPrefix(org, day), err)
	}
	if last == "" {
		return nil, nil, nil
	}
	b, err := archiver.ReadAll(ctx, r.Store, last)
	if err != nil {
		return nil, nil, fmt.Errorf("attach: %w", err)
	}
	ix, err := DecodeIndex(last, b, r.TrustedKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidIndex, err)
	}
	return ix, b, nil
}

// FileEntry is what the index that names a file says of it.
type FileEntry struct {
	Key         string
	SHA256      string
	Size        int64
	ContentType string
	// ContentEncoding is the encoding the bytes were served with ("" for none): the bytes
	// are stored, and hashed, encoded. A reader serving the file must not send it as its
	// Content-Encoding (a client would decode them into bytes the digest does not name):
	// it names it otherwise, and the file with EncodingSuffix.
	ContentEncoding string
	// Index is the key of the index that names it.
	Index string
}

// ErrInvalidIndex is returned (wrapped) by Reader for a stored index that does not check
// (signature, key, counts).
var ErrInvalidIndex = errors.New("attach: invalid attachment index")

// ErrNotNamed is returned by OpenFile for a file no index of the organization names as
// captured (whether or not some other organization has it).
var ErrNotNamed = errors.New("attach: no index of the organization names this file")

// OpenFile opens org's captured file sum, if the latest index of one of the days that
// name it (its named records) still names it as captured; otherwise ErrNotNamed. The
// caller checks the bytes against the entry's SHA-256 and size as it reads them.
func (r Reader) OpenFile(ctx context.Context, org string, sum [sha256.Size]byte) (FileEntry, io.ReadCloser, error) {
	hexSum := hex.EncodeToString(sum[:])
	prefix := namedPrefix(org, hexSum)
	var days []archiver.Day
	if err := r.Store.List(ctx, prefix, func(key string) error {
		if d, err := archiver.ParseDay(strings.TrimPrefix(key, prefix)); err == nil {
			days = append(days, d)
		}
		return nil
	}); err != nil {
		return FileEntry{}, nil, fmt.Errorf("attach: list %s: %w", prefix, err)
	}
	for _, day := range days {
		if fe, rc, err := r.OpenFileOf(ctx, org, sum, day); !errors.Is(err, ErrNotNamed) {
			return fe, rc, err
		}
	}
	return FileEntry{}, nil, ErrNotNamed
}

// OpenFileOf opens org's captured file sum if the latest index of day names it as
// captured, otherwise ErrNotNamed: one listing and one read of that day's index, without
// its named record. It serves a file whose named record is missing (an index written
// by a build before named records, which verify reports) when the caller knows the day,
// since the file's SHA-256 alone names no day: finding it without the record would mean
// reading the organization's indexes, its whole history.
func (r Reader) OpenFileOf(ctx context.Context, org string, sum [sha256.Size]byte, day archiver.Day) (FileEntry, io.ReadCloser, error) {
	hexSum := hex.EncodeToString(sum[:])
	ix, _, err := r.LatestIndex(ctx, org, day)
	if err != nil {
		return FileEntry{}, nil, err
	}
	if ix == nil || ix.Org != org {
		return FileEntry{}, nil, ErrNotNamed
	}
	for _, e := range ix.Entries {
		if e.Outcome != Captured || e.SHA256 != hexSum || e.Key != FileKey(org, sum) {
			continue
		}
		rc, err := r.Store.Open(ctx, e.Key)
		if err != nil {
			return FileEntry{}, nil, fmt.Errorf("attach: open %s: %w", e.Key, err)
		}
		return FileEntry{Key: e.Key, SHA256: e.SHA256, Size: e.Size, ContentType: e.ContentType, ContentEncoding: e.ContentEncoding, Index: ix.Key}, rc, nil
	}
	return FileEntry{}, nil, ErrNotNamed
}
