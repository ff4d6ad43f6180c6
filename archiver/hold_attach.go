package archiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
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

// revisionEventPrefixes are the prefixes of the revision events of org's day.
func revisionEventPrefixes(org string, day Day) []string {
	return []string{
		supersededPrefix + day.String() + "/" + org + "/",
		refusedPrefix + day.String() + "/" + org + "/",
	}
}

// attachmentIndexRefs is what a hold reads of an attachment index revision: the files it
// names as captured. The index's signature is verify's business: a hold holds more, never
// less, and only keys of the organization's own attachments.
type attachmentIndexRefs struct {
	Entries []struct {
		URL     string `json:"url"`
		Outcome string `json:"outcome"`
		Key     string `json:"key"`
		SHA256  string `json:"sha256"`
	} `json:"entries"`
}

// dayHeld is what a legal hold of an organization's day covers.
type dayHeld struct {
	DayHoldings
	// fileOf maps each URL record in Shared to the captured files the day's indexes name
	// for its URL.
	fileOf map[string][]string
}

// holdings is what a legal hold of org's day covers: DayHoldings, and the day's revision
// events and attachment objects (above). Costs beyond DayHoldings: three listings (the
// two revision-event prefixes and the day's attachment index) and one read per index
// revision.
func (l Ledger) holdings(ctx context.Context, org string, day Day) (dayHeld, error) {
	do, err := l.DayHoldings(ctx, org, day)
	if err != nil {
		return dayHeld{DayHoldings: do}, err
	}
	own, shared, fileOf, err := l.dayExtras(ctx, org, day)
	if err != nil {
		return dayHeld{DayHoldings: do}, err
	}
	do.Keys = append(do.Keys, own...)
	for _, key := range shared {
		if !slices.Contains(do.Shared, key) {
			do.Shared = append(do.Shared, key)
		}
	}
	return dayHeld{DayHoldings: do, fileOf: fileOf}, nil
}

// dayExtras returns the revision events and attachment objects of org's day: its own
// (revision events, index revisions, named records) and those other days may name too
// (captured files, URL records, with the files named for each URL record).
func (l Ledger) dayExtras(ctx context.Context, org string, day Day) (own, shared []string, fileOf map[string][]string, err error) {
	list := func(prefix string, fn func(string) error) error {
		if err := l.Store.List(ctx, prefix, fn); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		return nil
	}
	for _, p := range revisionEventPrefixes(org, day) {
		if err := list(p, func(key string) error {
			own = append(own, key)
			return nil
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	var indexes []string
	if err := list(AttachmentIndexPrefix(org, day), func(key string) error {
		indexes = append(indexes, key)
		return nil
	}); err != nil {
		return nil, nil, nil, err
	}
	own = append(own, indexes...)
	fileOf = map[string][]string{}
	seen := map[string]bool{}
	add := func(to *[]string, key string) {
		if !seen[key] {
			seen[key] = true
			*to = append(*to, key)
		}
	}
	// Every revision, not only the latest: a held revision names its files, and they
	// must outlive it even when a later revision no longer names them.
	for _, key := range indexes {
		b, err := readAll(ctx, l.Store, key)
		if err != nil {
			return nil, nil, nil, err
		}
		var ix attachmentIndexRefs
		if err := json.Unmarshal(b, &ix); err != nil {
			continue // verify reports an index that does not decode; its key is held
		}
		for _, e := range ix.Entries {
			if e.Outcome != "captured" || !isHexSHA256(e.SHA256) || e.Key != AttachmentFileKey(org, e.SHA256) {
				continue // not a file of this organization's: verify reports it
			}
			add(&own, AttachmentNamedKey(org, e.SHA256, day))
			add(&shared, e.Key)
			// The link's URL record and that of the URL it requested (the capture writes
			// both when they differ).
			for _, u := range []string{AttachmentURLKey(org, e.URL), AttachmentURLKey(org, AttachmentRequestURL(e.URL))} {
				add(&shared, u)
				if !slices.Contains(fileOf[u], e.Key) {
					fileOf[u] = append(fileOf[u], e.Key)
				}
			}
		}
	}
	return own, shared, fileOf, nil
}

// heldFiles decides, for each of pending that is a captured file of org, whether a day
// of org that st holds names it, from the file's named records (one listing per file:
// attachments/<org>/named/<sha256>/ lists the days whose indexes name it), and then each
// URL record of pending by its files (fileOf): held while one of them is. It records the
// answers in named and removes what it decided from pending. A URL record is so held
// while any held day names a file captured from the URL or with the same bytes: more
// than needed at worst, never less.
func (l Ledger) heldFiles(ctx context.Context, org string, st holdState, pending, named map[string]bool, fileOf map[string][]string) error {
	filesPrefix := AttachmentsPrefix + org + "/files/"
	for key := range pending {
		sum, ok := strings.CutPrefix(key, filesPrefix)
		if !ok || !isHexSHA256(sum) {
			continue
		}
		prefix := AttachmentsPrefix + org + "/named/" + sum + "/"
		err := l.Store.List(ctx, prefix, func(k string) error {
			if d, err := ParseDay(strings.TrimPrefix(k, prefix)); err == nil && st.orgHolds(org, d) {
				named[key] = true
				return ErrStopListing
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrStopListing) {
			return fmt.Errorf("hold: list %s: %w", prefix, err)
		}
		delete(pending, key)
	}
	for key := range pending {
		files, ok := fileOf[key]
		if !ok {
			continue
		}
		for _, f := range files {
			if named[f] {
				named[key] = true
			}
		}
		delete(pending, key)
	}
	return nil
}

// isHexSHA256 reports whether s is a SHA-256 in lower-case hex, as attachment keys name
// files.
func isHexSHA256(s string) bool {
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

// revisionEvents lists the revision events of org's day (a refused revision is recorded
// without a commit, so the seal's holds find it here).
func (l Ledger) revisionEvents(ctx context.Context, org string, day Day) ([]string, error) {
	var keys []string
	for _, p := range revisionEventPrefixes(org, day) {
		if err := l.Store.List(ctx, p, func(key string) error {
			keys = append(keys, key)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list %s: %w", p, err)
		}
	}
	return keys, nil
}

// HoldDay places the legal hold on what org's day holds, when a recorded hold of the
// organization covers the day; it reports whether one does. Writers of a day's objects
// other than the seal call it after they store some (attachment capture appends index
// revisions and captures files after the day was sealed): like the seal, a writer that
// stores first and reads the hold events after cannot miss a hold whose command recorded
// its event before listing the day's objects (Hold does): one of the two places the hold.
// Holds are only ever placed here, never lifted. A store that does not lock objects has
// nothing to hold: it costs nothing there; on one that does, one listing and read of the
// hold events, and for a held day its holdings.
func (l Ledger) HoldDay(ctx context.Context, org string, day Day) (bool, error) {
	lk, ok := l.Store.(Locker)
	if !ok || !lk.Locking() {
		return false, nil
	}
	events, err := l.HoldEvents(ctx, org)
	if err != nil || len(events) == 0 {
		return false, err
	}
	if !replayHolds(events).orgHolds(org, day) {
		return false, nil
	}
	objs, err := l.holdings(ctx, org, day)
	if err != nil {
		return true, fmt.Errorf("legal hold: %w", err)
	}
	for _, key := range append(objs.Keys, objs.Shared...) {
		if _, err := setLegalHoldFound(ctx, lk, key, true); err != nil {
			return true, fmt.Errorf("legal hold of %s: %w", key, err)
		}
	}
	return true, nil
}

// setLegalHoldFound is setLegalHold for a key that a manifest or an index names, which may
// not be in the store (a file an index names but that was never stored): found is false
// then, and nothing fails: verify reports the missing object.
func setLegalHoldFound(ctx context.Context, lk Locker, key string, on bool) (found bool, err error) {
	err = setLegalHold(ctx, lk, key, on)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
