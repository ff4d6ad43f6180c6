package exporttask

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/model"
)

// Attachments gives a format the files captured for the export's organization (issue 14,
// archiver/attach): what each link of a day's records became, and the captured bytes.
// Only the task's organization's files are ever reachable through it.
type Attachments interface {
	// Day returns what the latest revision of the day's attachment index says of each URL
	// (nil when the day has none: attachments not captured, or nothing linked).
	Day(ctx context.Context, date string) (map[string]attach.Entry, error)
	// Index returns the latest revision of the day's attachment index (nil: none).
	Index(ctx context.Context, date string) (*attach.StoredIndex, error)
	// Open streams a captured file. The reader's last Read fails with an error the task
	// fails on when the bytes read are not size long or do not hash to sum: an export
	// never carries other bytes than those the index names.
	Open(ctx context.Context, sum string, size int64) (io.ReadCloser, error)
}

// Link is one URL an event links a file by, where attach.References finds them: a text's
// attachments[i].url, an item's itemUrl, a custom emoji's fileUrl.
type Link struct {
	Field, URL string
	// Index is the attachment's position for content.attachments[i].url, else -1.
	Index int
}

// EventLinks returns e's links in the order attach.References reads them.
func EventLinks(e *model.Event) []Link {
	if !e.HasContent {
		return nil
	}
	var out []Link
	for i, a := range e.Content.Attachments {
		var obj struct {
			URL any `json:"url"`
		}
		if json.Unmarshal([]byte(a), &obj) != nil {
			continue
		}
		if u, ok := obj.URL.(string); ok && u != "" {
			out = append(out, Link{"content.attachments[" + strconv.Itoa(i) + "].url", u, i})
		}
	}
	if u := e.Content.ItemURL; u != "" {
		out = append(out, Link{"content.itemUrl", u, -1})
	}
	if u := e.Content.FileURL; u != "" {
		out = append(out, Link{"content.fileUrl", u, -1})
	}
	return out
}

// storeAttachments reads org's attachment indexes and files from the store.
type storeAttachments struct {
	store   archiver.Store
	org     string
	trusted []ed25519.PublicKey
	// from and to, when set, are the task's range: the first Index of a day in it lists
	// the range's indexes once (rangeIndexes), so that a day without one (capture off,
	// not run, an empty day) costs no request and a day with one a read, instead of a
	// listing per day.
	from, to archiver.Day

	mu     sync.Mutex
	listed bool
	latest map[string]string // date → key of its latest index revision, for the range's days
}

func (a *storeAttachments) Index(ctx context.Context, date string) (*attach.StoredIndex, error) {
	day, err := archiver.ParseDay(date)
	if err != nil {
		return nil, err
	}
	var ix *attach.StoredIndex
	if a.from.IsZero() || day.Before(a.from) || day.After(a.to) {
		ix, err = attach.LatestIndex(ctx, a.store, a.org, day, a.trusted)
	} else {
		ix, err = a.rangeIndex(ctx, day)
	}
	if err != nil {
		// An index that does not decode or is not signed by a trusted key is not used to
		// name the files an export carries.
		return nil, taskErrorf("attachments of %s: %v", date, err)
	}
	return ix, nil
}

// errPastRange ends the range's listing at the first key after its last day.
var errPastRange = errors.New("past the range")

// rangeIndex returns the latest index revision of day, a day of the range, as
// attach.LatestIndex does (the last key of the day's revisions), from one listing of the
// range's index keys made at the first call.
func (a *storeAttachments) rangeIndex(ctx context.Context, day archiver.Day) (*attach.StoredIndex, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.listed {
		// Index keys are <root><yyyy>/<mm>/<dd>.r…: the listing starts after the bare path
		// of the range's first day, which sorts before its revisions and after every
		// earlier day's, and stops at the first key past its last day.
		root := attach.Prefix + a.org + "/index/"
		path := func(d archiver.Day) string { return strings.TrimSuffix(attach.IndexPrefix(a.org, d), ".r") }
		end := path(a.to.Next())
		latest := map[string]string{}
		err := archiver.ListAfter(ctx, a.store, root, path(a.from), func(key string) error {
			if key >= end {
				return errPastRange
			}
			if len(key) < len(root)+10 {
				return nil
			}
			d, err := archiver.ParseDay(strings.ReplaceAll(key[len(root):len(root)+10], "/", "-"))
			if err != nil || !strings.HasPrefix(key, attach.IndexPrefix(a.org, d)) {
				return nil // not a revision's key
			}
			latest[d.String()] = key // keys come in order: the day's last is its latest
			return nil
		})
		if err != nil && !errors.Is(err, errPastRange) {
			return nil, fmt.Errorf("attach: list %s: %w", root, err)
		}
		a.latest, a.listed = latest, true
	}
	key := a.latest[day.String()]
	if key == "" {
		return nil, nil
	}
	b, err := archiver.ReadAll(ctx, a.store, key)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return attach.DecodeIndex(key, b, a.trusted)
}

func (a *storeAttachments) Day(ctx context.Context, date string) (map[string]attach.Entry, error) {
	ix, err := a.Index(ctx, date)
	if err != nil {
		return nil, err
	}
	if ix == nil {
		return nil, nil
	}
	out := make(map[string]attach.Entry, len(ix.Entries))
	for _, e := range ix.Entries {
		// A URL linked twice has one outcome per capture pass; a captured one wins.
		if old, ok := out[e.URL]; !ok || old.Outcome != attach.Captured {
			out[e.URL] = e
		}
	}
	return out, nil
}

func (a *storeAttachments) Open(ctx context.Context, sum string, size int64) (io.ReadCloser, error) {
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != sha256.Size {
		return nil, taskErrorf("attachment %q: not a SHA-256", sum)
	}
	key := attach.FileKey(a.org, [sha256.Size]byte(raw))
	rc, err := a.store.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", key, err)
	}
	return &checkedReader{rc: rc, key: key, want: sum, size: size, h: sha256.New()}, nil
}

// checkedReader hashes what it reads and fails at the end when the bytes are not the ones
// named.
type checkedReader struct {
	rc   io.ReadCloser
	key  string
	want string
	size int64
	n    int64
	h    hash.Hash
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n > c.size {
		return n, taskErrorf("attachment %s: stored file is longer than the %d bytes its index names", c.key, c.size)
	}
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.size || got != c.want {
			return n, taskErrorf("attachment %s: stored bytes (%d, SHA-256 %s) do not match its index (%d, %s): not exported",
				c.key, c.n, got, c.size, c.want)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }

// LinkName is what a link's file is called: its attachment's name (name, title, fileName or
// filename, as the html export shows it), else the URL's last path segment.
func LinkName(e *model.Event, l Link) string {
	if l.Index >= 0 && l.Index < len(e.Content.Attachments) {
		var obj map[string]any
		if json.Unmarshal([]byte(e.Content.Attachments[l.Index]), &obj) == nil {
			for _, k := range []string{"name", "title", "fileName", "filename"} {
				if s, ok := obj[k].(string); ok && s != "" {
					return s
				}
			}
		}
	}
	if u, err := url.Parse(l.URL); err == nil {
		if b := path.Base(u.Path); b != "/" && b != "." {
			return b
		}
	}
	return l.URL
}

// CapturedName is what an export calls a captured file: its SHA-256, with the link's file
// name extension when that is a short plain one (a viewer shows .png, .jpg and .gif inline).
func CapturedName(sum, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return sum
	}
	ext := strings.ToLower(path.Ext(u.Path))
	if len(ext) < 2 || len(ext) > 8 {
		return sum
	}
	for _, c := range ext[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return sum
		}
	}
	return sum + ext
}

// CapturedFileName is CapturedName for a captured entry: with EncodingSuffix after the
// extension when its host served it encoded (Entry.ContentEncoding), as it is kept: an
// export carries the bytes its index hashes, never decoded, and the name says so
// (notes.txt served gzip-encoded is <sha256>.txt.gz).
func CapturedFileName(ent attach.Entry, link string) string {
	return CapturedName(ent.SHA256, link) + attach.EncodingSuffix(ent.ContentEncoding)
}

// indexRef names the latest revision of a's attachment index of date (nil: none).
func indexRef(ctx context.Context, a *storeAttachments, date string) (*IndexRef, error) {
	ix, err := a.Index(ctx, date)
	if err != nil || ix == nil {
		return nil, err
	}
	return &IndexRef{Key: ix.Key, SHA256: hex.EncodeToString(ix.SHA256[:]), Revision: ix.Revision,
		Captured: ix.Counts.Captured, Failed: ix.Counts.Failed}, nil
}
