package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// Holdings is what a legal hold of org's day covers: DayHoldings, and the day's revision
// events and attachment objects (above). Costs beyond DayHoldings: three listings (the
// two revision-event prefixes and the day's attachment index) and one read per index
// revision.
func (l Ledger) Holdings(ctx context.Context, org string, day archiver.Day) (archiver.DayHeld, error) {
	do, err := l.DayHoldings(ctx, org, day)
	if err != nil {
		return archiver.DayHeld{DayHoldings: do}, err
	}
	own, shared, fileOf, err := l.dayExtras(ctx, org, day)
	if err != nil {
		return archiver.DayHeld{DayHoldings: do}, err
	}
	do.Keys = append(do.Keys, own...)
	for _, key := range shared {
		if !slices.Contains(do.Shared, key) {
			do.Shared = append(do.Shared, key)
		}
	}
	return archiver.DayHeld{DayHoldings: do, FileOf: fileOf}, nil
}

// dayExtras returns the revision events and attachment objects of org's day: its own
// (revision events, index revisions, named records) and those other days may name too
// (captured files, URL records, with the files named for each URL record).
func (l Ledger) dayExtras(ctx context.Context, org string, day archiver.Day) (own, shared []string, fileOf map[string][]string, err error) {
	list := func(prefix string, fn func(string) error) error {
		if err := l.Store.List(ctx, prefix, fn); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		return nil
	}
	for _, p := range archiver.RevisionEventPrefixes(org, day) {
		if err := list(p, func(key string) error {
			own = append(own, key)
			return nil
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	var indexes []string
	if err := list(archiver.AttachmentIndexPrefix(org, day), func(key string) error {
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
		b, err := archiver.ReadAll(ctx, l.Store, key)
		if err != nil {
			return nil, nil, nil, err
		}
		var ix archiver.AttachmentIndexRefs
		if err := json.Unmarshal(b, &ix); err != nil {
			continue // verify reports an index that does not decode; its key is held
		}
		for _, e := range ix.Entries {
			if e.Outcome != "captured" || !archiver.IsHexSHA256(e.SHA256) || e.Key != archiver.AttachmentFileKey(org, e.SHA256) {
				continue // not a file of this organization's: verify reports it
			}
			add(&own, archiver.AttachmentNamedKey(org, e.SHA256, day))
			add(&shared, e.Key)
			// The link's URL record and that of the URL it requested (the capture writes
			// both when they differ).
			for _, u := range []string{archiver.AttachmentURLKey(org, e.URL), archiver.AttachmentURLKey(org, archiver.AttachmentRequestURL(e.URL))} {
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
func (l Ledger) heldFiles(ctx context.Context, org string, st archiver.HoldState, pending, named map[string]bool, fileOf map[string][]string) error {
	filesPrefix := archiver.AttachmentsPrefix + org + "/files/"
	for key := range pending {
		sum, ok := strings.CutPrefix(key, filesPrefix)
		if !ok || !archiver.IsHexSHA256(sum) {
			continue
		}
		prefix := archiver.AttachmentsPrefix + org + "/named/" + sum + "/"
		err := l.Store.List(ctx, prefix, func(k string) error {
			if d, err := archiver.ParseDay(strings.TrimPrefix(k, prefix)); err == nil && st.OrgHolds(org, d) {
				named[key] = true
				return archiver.ErrStopListing
			}
			return nil
		})
		if err != nil && !errors.Is(err, archiver.ErrStopListing) {
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

// RevisionEvents lists the revision events of org's day (a refused revision is recorded
// without a commit, so the seal's holds find it here).
func (l Ledger) RevisionEvents(ctx context.Context, org string, day archiver.Day) ([]string, error) {
	var keys []string
	for _, p := range archiver.RevisionEventPrefixes(org, day) {
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
func (l Ledger) HoldDay(ctx context.Context, org string, day archiver.Day) (bool, error) {
	lk, ok := l.Store.(archiver.Locker)
	if !ok || !lk.Locking() {
		return false, nil
	}
	events, err := l.HoldEvents(ctx, org)
	if err != nil || len(events) == 0 {
		return false, err
	}
	if !archiver.ReplayHolds(events).OrgHolds(org, day) {
		return false, nil
	}
	objs, err := l.Holdings(ctx, org, day)
	if err != nil {
		return true, fmt.Errorf("legal hold: %w", err)
	}
	for _, key := range append(objs.Keys, objs.Shared...) {
		if _, err := archiver.SetLegalHoldFound(ctx, lk, key, true); err != nil {
			return true, fmt.Errorf("legal hold of %s: %w", key, err)
		}
	}
	return true, nil
}
