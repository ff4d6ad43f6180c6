package archiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

// Beside the day's keys (DayHoldings), a legal hold of an organization's day covers what
// other parts of the store keep for that day:
//
//   - the revision events of the day (revision.go): revisions/superseded/<date>/<org>/…
//     and revisions/refused/<date>/<org>/…, the day's own;
//   - its attachment objects (archiver/attach): every revision of the day's attachment
//     index and the day's named records, the day's own; and the captured files the
//     revisions name as captured, with the records of their URLs' first capture, which
//     other days of the organization may name too, so they are held like the members
//     object: while any held day of the organization names them.
//
// The ledger spells the attachment keys it holds here; archiver/attach writes them
// (its index.go and named.go), and a test there checks that both spell them alike.

// AttachmentsPrefix starts the keys of attachment objects (archiver/attach).
const AttachmentsPrefix = "attachments/"

// AttachmentIndexPrefix is the prefix of the revisions of org's attachment index of day.
func AttachmentIndexPrefix(org string, day Day) string {
	return AttachmentsPrefix + org + "/index/" + day.Start().Format("2006/01/02") + ".r"
}

// AttachmentFileKey is the key of org's captured file whose bytes hash to sum (hex).
func AttachmentFileKey(org, sum string) string {
	return AttachmentsPrefix + org + "/files/" + sum
}

// AttachmentNamedKey is the record that org's day names the captured file sum (hex).
func AttachmentNamedKey(org, sum string, day Day) string {
	return AttachmentsPrefix + org + "/named/" + sum + "/" + day.String()
}

// AttachmentURLKey is the record of url's first capture for org.
func AttachmentURLKey(org, url string) string {
	sum := sha256.Sum256([]byte(url))
	return AttachmentsPrefix + org + "/urls/" + hex.EncodeToString(sum[:]) + ".json"
}

// AttachmentRequestURL is what the link raw requests: raw without its #fragment (never
// sent), its host in lower case and its port left out when it is the scheme's default, so
// that spellings of one request are one fetch. A URL that cannot be fetched is only cut
// at its '#'. The capture (archiver/attach) records a file's URL under this spelling and
// each link's own; a hold holds both.
func AttachmentRequestURL(raw string) string {
	base, _, _ := strings.Cut(raw, "#")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return base
	}
	host, port := u.Hostname(), u.Port()
	for _, r := range host {
		if r >= 0x80 || r == '%' {
			return base // Unicode or a zone: left as written
		}
	}
	host = strings.ToLower(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && port != DefaultPort(u.Scheme) {
		host += ":" + port
	}
	u.Host = host
	return u.String()
}

// DefaultPort is the port a URL of scheme (http or https) means when it names none.
func DefaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// RevisionEventPrefixes are the prefixes of the revision events of org's day.
func RevisionEventPrefixes(org string, day Day) []string {
	return []string{
		SupersededPrefix + day.String() + "/" + org + "/",
		RefusedPrefix + day.String() + "/" + org + "/",
	}
}

// AttachmentIndexRefs is what a hold reads of an attachment index revision: the files it
// names as captured. The index's signature is verify's business: a hold holds more, never
// less, and only keys of the organization's own attachments.
type AttachmentIndexRefs struct {
	Entries []struct {
		URL     string `json:"url"`
		Outcome string `json:"outcome"`
		Key     string `json:"key"`
		SHA256  string `json:"sha256"`
	} `json:"entries"`
}

// DayHeld is what a legal hold of an organization's day covers.
type DayHeld struct {
	DayHoldings
	// FileOf maps each URL record in Shared to the captured files the day's indexes name
	// for its URL.
	FileOf map[string][]string
}

// IsHexSHA256 reports whether s is a SHA-256 in lower-case hex, as attachment keys name
// files.
func IsHexSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// SetLegalHoldFound is setLegalHold for a key that a manifest or an index names, which may
// not be in the store (a file an index names but that was never stored): found is false
// then, and nothing fails: verify reports the missing object.
func SetLegalHoldFound(ctx context.Context, lk Locker, key string, on bool) (found bool, err error) {
	err = setLegalHold(ctx, lk, key, on)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DayHoldings is what an organization's day holds in the store, as a legal hold of the
// day must cover it.
type DayHoldings struct {
	Day Day
	// Keys are the objects of the organization that belong to this day alone: its
	// exports, manifests (and their chain entries or copies), chat indexes, quarantine
	// objects and failed attempts.
	Keys []string
	// Shared are the organization's objects the day names that other days of the same
	// organization may name too (none in the store's first layouts).
	Shared []string
	// Manifests are the day's committed revisions, oldest first.
	Manifests []*StoredManifest
}
