package attach

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// Store layout of attachments, beside the organizations' days (its own prefix, so that
// no reader of orgs/ meets an object it does not know):
//
//	attachments/<org>/files/<sha256>                       a captured file, named by the SHA-256 of its bytes
//	attachments/<org>/urls/<sha256 of the URL>.json        the URL's first capture: which file it was
//	attachments/<org>/index/<yyyy>/<mm>/<dd>.r<rev>.m<mrev>[.failed].json
//	                                                       the day's attachment index, revision rev, of the
//	                                                       sealed revision mrev (4 digits each); .failed when
//	                                                       some link failed
//	attachments/<org>/named/<sha256>/<yyyy>-<mm>-<dd>      empty: the day's index names the file (named.go)
//
// The sealed revision and the failure mark in the key let the retry pass find the days
// that need work from listings alone (CaptureRecent), without reading every index.
// Everything is created once and kept with the organization's retention from the day of
// the message. Files are per organization: the same bytes linked by two organizations are
// stored twice, so that a create that finds an object already there tells one
// organization nothing about another.

// Prefix starts every attachment object.
const Prefix = "attachments/"

func orgPrefix(org string) string { return Prefix + org + "/" }

// FileKey is the key of org's captured file whose bytes hash to sum.
func FileKey(org string, sum [sha256.Size]byte) string {
	return orgPrefix(org) + "files/" + hex.EncodeToString(sum[:])
}

// urlKey is the key of the record of url's first capture for org.
func urlKey(org, url string) string {
	sum := sha256.Sum256([]byte(url))
	return orgPrefix(org) + "urls/" + hex.EncodeToString(sum[:]) + ".json"
}

// IndexPrefix is the prefix of the revisions of org's attachment index of day; a listing
// of it ends with the latest revision.
func IndexPrefix(org string, day archiver.Day) string {
	return orgPrefix(org) + "index/" + strings.ReplaceAll(day.String(), "-", "/") + ".r"
}

// IndexKey is the key of revision rev of org's attachment index of day, made from the
// sealed revision manifestRev, with failed links or not.
func IndexKey(org string, day archiver.Day, rev, manifestRev int, failed bool) string {
	k := fmt.Sprintf("%s%04d.m%04d", IndexPrefix(org, day), rev, manifestRev)
	if failed {
		k += ".failed"
	}
	return k + ".json"
}

// Key is the key ix is stored under.
func (ix *Index) Key() (string, error) {
	day, err := archiver.ParseDay(ix.Date)
	if err != nil {
		return "", fmt.Errorf("attach: index date %q: %w", ix.Date, err)
	}
	return IndexKey(ix.Org, day, ix.Revision, ix.Manifest.Revision, ix.Counts.Failed > 0), nil
}

// indexName is what an index key says.
type indexName struct {
	day       archiver.Day
	rev, mrev int
	failed    bool
}

// parseIndexKey reads an index key of org (IndexKey).
func parseIndexKey(org, key string) (indexName, bool) {
	rest, ok := strings.CutPrefix(key, orgPrefix(org)+"index/")
	if !ok || len(rest) < len("2006/01/02.r0001.m0001.json") {
		return indexName{}, false
	}
	day, err := archiver.ParseDay(strings.ReplaceAll(rest[:10], "/", "-"))
	if err != nil {
		return indexName{}, false
	}
	var n indexName
	n.day = day
	name := rest[10:]
	name, n.failed = strings.CutSuffix(strings.TrimSuffix(name, ".json"), ".failed")
	if _, err := fmt.Sscanf(name, ".r%04d.m%04d", &n.rev, &n.mrev); err != nil || IndexKey(org, day, n.rev, n.mrev, n.failed) != key {
		return indexName{}, false
	}
	return n, true
}

// IndexVersion is the version of the attachment indexes this build writes.
const IndexVersion = 1

// Outcomes of a reference.
const (
	Captured = "captured"
	Failed   = "failed"
)

// Index is one revision of an organization-day's attachment index: every reference of the
// day's latest sealed revision (the manifest it names) with its outcome. A later run that
// retries failed captures, or follows a new sealed revision, appends a revision whose
// Previous is this one's SHA-256, never rewriting one. It is signed like a manifest.
type Index struct {
	Version  int    `json:"version"`
	Org      string `json:"org"`
	Date     string `json:"date"`
	Revision int    `json:"revision"`
	// Previous is the hex SHA-256 of revision Revision-1 as stored, PreviousKey its key;
	// both empty for revision 1.
	Previous    string `json:"previous"`
	PreviousKey string `json:"previousKey"`
	// Manifest is the sealed manifest whose export the references were read from.
	Manifest ManifestRef `json:"manifest"`
	// Counts sum Entries by outcome.
	Counts Counts `json:"counts"`
	// Entries are the references in the export's order.
	Entries   []Entry `json:"entries"`
	Generator string  `json:"generator"`
	// MadeAt is when the revision was made (RFC 3339, UTC).
	MadeAt    string              `json:"madeAt"`
	Signature *archiver.Signature `json:"signature,omitempty"`
}

// ManifestRef names a sealed manifest.
type ManifestRef struct {
	Key      string `json:"key"`
	SHA256   string `json:"sha256"`
	Revision int    `json:"revision"`
}

// Counts are an index's references by outcome.
type Counts struct {
	References int `json:"references"`
	Captured   int `json:"captured"`
	Failed     int `json:"failed"`
}

// Entry is one reference and its outcome.
type Entry struct {
	Reference
	Outcome string `json:"outcome"`
	// Captured: the file's key, SHA-256 (hex), size and content type as served.
	Key         string `json:"key,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	Size        int64  `json:"size,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// ContentEncoding is the Content-Encoding the server sent although asked for none
	// (gzip, …): the bytes are kept, and hashed, as served, encoded.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	// ServedFrom is the URL that served the bytes when the linked one redirected to it
	// ("" when it did not).
	ServedFrom string `json:"servedFrom,omitempty"`
	// Failed: why (a Reason constant), the HTTP status for http_status, a detail, and how
	// many fetches were tried (0 when none could be: a host not on the list).
	Reason   string `json:"reason,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
}

// StoredIndex is an index with its stored bytes' identity.
type StoredIndex struct {
	*Index
	Key    string
	SHA256 [sha256.Size]byte
}

func encodeIndex(ix *Index) ([]byte, error) {
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("attach: encode index: %w", err)
	}
	return append(b, '\n'), nil
}

// signIndex sets ix.Signature with key over ix's encoding without a signature.
func signIndex(ix *Index, key ed25519.PrivateKey) error {
	ix.Signature = nil
	body, err := encodeIndex(ix)
	if err != nil {
		return err
	}
	ix.Signature = archiver.SignBody(key, body)
	return nil
}

// DecodeIndex parses a stored index and checks its signature (with trusted keys, it must
// be signed by one of them) and that it is the one key names.
func DecodeIndex(key string, b []byte, trusted []ed25519.PublicKey) (*StoredIndex, error) {
	var ix Index
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ix); err != nil {
		return nil, fmt.Errorf("attach: %s: decode index: %w", key, err)
	}
	if ix.Version != IndexVersion {
		return nil, fmt.Errorf("attach: %s: unsupported index version %d", key, ix.Version)
	}
	unsigned := ix
	unsigned.Signature = nil
	body, err := encodeIndex(&unsigned)
	if err != nil {
		return nil, err
	}
	if err := archiver.CheckSignature(key, ix.Signature, body, trusted); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	if countEntries(ix.Entries) != ix.Counts {
		return nil, fmt.Errorf("attach: %s: counts %+v do not sum the entries", key, ix.Counts)
	}
	// The key says the day, revisions and failure mark that the retry pass lists: it must
	// say what the signed index does.
	if k, err := ix.Key(); err != nil || k != key {
		return nil, fmt.Errorf("attach: %s: the index says org %q, date %q, revision %d of sealed revision %d, %d failed",
			key, ix.Org, ix.Date, ix.Revision, ix.Manifest.Revision, ix.Counts.Failed)
	}
	return &StoredIndex{Index: &ix, Key: key, SHA256: sha256.Sum256(b)}, nil
}

// LatestIndex returns the latest revision of org's attachment index of day, or nil when
// the day has none: one listing of the day's revisions and one read.
func LatestIndex(ctx context.Context, s archiver.Store, org string, day archiver.Day, trusted []ed25519.PublicKey) (*StoredIndex, error) {
	var last string
	if err := s.List(ctx, IndexPrefix(org, day), func(key string) error {
		last = key
		return nil
	}); err != nil {
		return nil, fmt.Errorf("attach: list %s: %w", IndexPrefix(org, day), err)
	}
	if last == "" {
		return nil, nil
	}
	b, err := archiver.ReadAll(ctx, s, last)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return DecodeIndex(last, b, trusted)
}

// sameEntries reports whether two revisions say the same about the same sealed revision:
// then a run has nothing to append.
func sameEntries(a *Index, manifest ManifestRef, entries []Entry) bool {
	return a.Manifest == manifest && slices.Equal(a.Entries, entries)
}

func countEntries(entries []Entry) Counts {
	c := Counts{References: len(entries)}
	for _, e := range entries {
		if e.Outcome == Captured {
			c.Captured++
		} else {
			c.Failed++
		}
	}
	return c
}
