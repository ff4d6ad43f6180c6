package attach

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/crashpoint"
	"github.com/chatvault/chatvault/internal/panics"
	"golang.org/x/sync/errgroup"
)

// Capturer captures the files an organization-day's sealed records link to, and records
// the outcome of every link in the day's attachment index. It runs after the day was
// sealed, from the sealed export: sealing never waits on the network.
type Capturer struct {
	// Ledger reads the sealed days; its Store receives the files and indexes.
	Ledger ledger.Ledger
	// Fetcher fetches from the allowed hosts.
	Fetcher *Fetcher
	// SigningKey signs each index revision (nil: unsigned, as manifests without a key).
	SigningKey ed25519.PrivateKey
	// TrustedKeys, when set, are the keys a previous revision read back must be signed by.
	TrustedKeys []ed25519.PublicKey
	// RetryFor is how long after the day's end failed captures are retried.
	RetryFor time.Duration
	// RetryEvery spaces the retry pass's attempts (CaptureRecent): a day whose latest
	// index revision has failed links and was made less than RetryEvery ago is left
	// alone, so that a pass after every scheduler tick does not append a revision at each
	// (0: every pass). CaptureDay, the capture after a seal, is not spaced.
	RetryEvery time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Generator names the program in the index (default "chatvault").
	Generator string
	// Log receives one line per day captured (slog.Default when nil); never the token.
	Log *slog.Logger
}

// DayResult is what CaptureDay did.
type DayResult struct {
	Org string
	Day archiver.Day
	// References is the number of links of the day's latest sealed revision (0 when the
	// index was up to date and the export not read).
	References int
	// Captured and Failed count the references by outcome in the index as it now stands.
	Captured, Failed int
	// Fetched counts the files fetched and stored by this call, FetchedBytes their bytes.
	Fetched      int
	FetchedBytes int64
	// Revision is the index revision written, 0 when nothing was written.
	Revision int
}

func (c *Capturer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Capturer) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// refKey identifies a reference across revisions of the index.
type refKey struct {
	messageID, eventType, field, url string
	eventTimestamp                   int64
}

func keyOf(r Reference) refKey {
	return refKey{r.MessageID, r.EventType, r.Field, r.URL, r.EventTimestamp}
}

// CaptureDay captures what org's sealed day links to. A day whose index already covers
// its latest sealed revision, with nothing left to retry, costs two listings and two reads
// and fetches nothing; a file captured once for the organization (by any day) is never
// fetched again. It returns an error, and appends nothing, only when the store fails or
// ctx ends; a file that could not be fetched is an outcome in the index.
func (c *Capturer) CaptureDay(ctx context.Context, org string, day archiver.Day) (DayResult, error) {
	return c.captureDay(ctx, org, day, false)
}

// captureDay is CaptureDay; spaced, it leaves alone a day whose failed links were tried
// less than RetryEvery ago.
func (c *Capturer) captureDay(ctx context.Context, org string, day archiver.Day, spaced bool) (DayResult, error) {
	res := DayResult{Org: org, Day: day}
	m, err := c.Ledger.Latest(ctx, org, day)
	if err != nil {
		return res, fmt.Errorf("attach: %s %s: %w", org, day, err)
	}
	if m == nil {
		return res, fmt.Errorf("attach: %s %s: %w", org, day, ledger.ErrNotSealed)
	}
	store := c.Ledger.Store
	prev, err := LatestIndex(ctx, store, org, day, c.TrustedKeys)
	if err != nil {
		return res, err
	}
	manifest := ManifestRef{Key: m.Key, SHA256: hex.EncodeToString(m.SHA256[:]), Revision: m.Revision}
	retrying := c.RetryFor > 0 && c.now().Before(day.End().Add(c.RetryFor))
	if prev != nil && prev.Manifest == manifest && (prev.Counts.Failed == 0 || !retrying || spaced && c.triedRecently(prev.Index)) {
		res.Captured, res.Failed = prev.Counts.Captured, prev.Counts.Failed
		return res, nil
	}

	refs, err := c.references(ctx, m)
	if err != nil {
		return res, err
	}
	res.References = len(refs)
	if m.Data.Records == 0 && prev == nil {
		return res, nil // an empty day: its manifest says there is nothing to link
	}
	// A day with records but no link still gets its index (of no entries): a day whose
	// capture never ran must differ from one that had nothing to capture.

	prior := map[refKey]Entry{}
	known := map[string]Entry{} // url -> a captured entry of the previous revision
	if prev != nil {
		for _, e := range prev.Entries {
			prior[keyOf(e.Reference)] = e
			if e.Outcome == Captured {
				known[e.URL] = e
			}
		}
	}
	// The URLs to resolve: not captured before, and failed ones only while retrying.
	var todo []string
	seen := map[string]bool{}
	for _, r := range refs {
		if e, ok := prior[keyOf(r)]; ok && (e.Outcome == Captured || !retrying) {
			continue
		}
		if _, ok := known[r.URL]; ok || seen[r.URL] {
			continue
		}
		seen[r.URL] = true
		todo = append(todo, r.URL)
	}
	outcomes, fetched, err := c.resolve(ctx, org, day, m.RetentionDays, todo)
	if err != nil {
		return res, err
	}
	res.Fetched = len(fetched)
	for _, n := range fetched {
		res.FetchedBytes += n
	}

	entries := make([]Entry, 0, len(refs))
	for _, r := range refs {
		e := Entry{Reference: r}
		p, hadPrior := prior[keyOf(r)]
		switch o, ok := outcomes[r.URL]; {
		case hadPrior && (p.Outcome == Captured || !retrying):
			e = p
		case ok:
			e.Outcome, e.Key, e.SHA256, e.Size, e.ContentType, e.ContentEncoding = o.Outcome, o.Key, o.SHA256, o.Size, o.ContentType, o.ContentEncoding
			e.ServedFrom = o.ServedFrom
			e.Reason, e.Status, e.Detail = o.Reason, o.Status, o.Detail
			if o.Outcome == Failed {
				e.Attempts = o.Attempts
				if hadPrior && p.Outcome == Failed {
					e.Attempts += p.Attempts
				}
			}
		default:
			k := known[r.URL]
			e.Outcome, e.Key, e.SHA256, e.Size, e.ContentType, e.ContentEncoding = Captured, k.Key, k.SHA256, k.Size, k.ContentType, k.ContentEncoding
			e.ServedFrom = k.ServedFrom
		}
		entries = append(entries, e)
	}
	counts := countEntries(entries)
	res.Captured, res.Failed = counts.Captured, counts.Failed
	if prev != nil && sameEntries(prev.Index, manifest, entries) {
		return res, nil
	}

	ix := &Index{Version: IndexVersion, Org: org, Date: day.String(), Revision: 1, Manifest: manifest,
		Counts: counts, Entries: entries, Generator: c.Generator, MadeAt: c.now().UTC().Format(time.RFC3339Nano)}
	if ix.Generator == "" {
		ix.Generator = "chatvault"
	}
	if prev != nil {
		ix.Revision, ix.Previous, ix.PreviousKey = prev.Revision+1, hex.EncodeToString(prev.SHA256[:]), prev.Key
	}
	if c.SigningKey != nil {
		if err := signIndex(ix, c.SigningKey); err != nil {
			return res, err
		}
	}
	b, err := encodeIndex(ix)
	if err != nil {
		return res, err
	}
	key, err := ix.Key()
	if err != nil {
		return res, err
	}
	// Every file this revision names gets its named record first (named.go), so that the
	// API finds the day that names it.
	var prevIndex *Index
	if prev != nil {
		prevIndex = prev.Index
	}
	if err := writeNamed(ctx, store, ix, prevIndex, day, retention(day, m.RetentionDays)); err != nil {
		return res, err
	}
	crashpoint.Hit("attach.index")
	// Create-only: a concurrent capture that appended the same revision number first makes
	// this one fail with ErrConflict, and the next run starts from its revision.
	if err := store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), retention(day, m.RetentionDays)); err != nil {
		if errors.Is(err, archiver.ErrConflict) {
			// Another capture (a second replica, a concurrent run) appended this revision
			// first; its outcome stands and the next run starts from it.
			c.log().Warn("attachment index revision written by another capture", "org", org, "date", day.String(), "revision", ix.Revision)
			return res, nil
		}
		return res, fmt.Errorf("attach: write %s: %w", key, err)
	}
	res.Revision = ix.Revision
	// A legal hold of the day, placed before this revision was written, holds what it
	// names (the hold lists the day's attachment objects after recording its event, and
	// this reads the events after writing: one of the two places the hold).
	if _, err := c.Ledger.HoldDay(ctx, org, day); err != nil {
		return res, fmt.Errorf("attach: %s %s: index revision %d written, but not held as a recorded legal hold of the day asks (a rerun of the hold places it): %w", org, day, ix.Revision, err)
	}
	c.log().Info("attachments captured", "org", org, "date", day.String(), "revision", ix.Revision,
		"references", counts.References, "captured", counts.Captured, "failed", counts.Failed,
		"fetched", res.Fetched, "bytes", res.FetchedBytes)
	return res, nil
}

// triedRecently reports whether ix, a revision with failed links, was made less than
// RetryEvery ago (each attempt that fails again appends one: its attempts count).
func (c *Capturer) triedRecently(ix *Index) bool {
	if c.RetryEvery <= 0 {
		return false
	}
	made, err := time.Parse(time.RFC3339Nano, ix.MadeAt)
	return err == nil && c.now().Before(made.Add(c.RetryEvery))
}

// RetryFrom is the first day whose failed captures are still retried at now.
func (c *Capturer) RetryFrom(now time.Time) archiver.Day {
	return archiver.DayOf(now.Add(-c.RetryFor))
}

// CaptureRecent captures the sealed days of org from `from` through `through` that need it:
// the days still within attachments.retryFor, so that later runs retry what failed and
// capture a day whose capture never ran (a run stopped after its seal). Which days need
// it is found from listings: one of the organization's days from `from` (each day's
// latest sealed revision) and one of its indexes from `from` (each day's latest index
// revision, of which sealed revision, with failures or not). A day whose index covers its
// latest sealed revision without failure costs nothing more; a day with no index, one read
// of its manifest (an empty day has nothing to capture). skip, when set, leaves out the
// days it reports (those the same run just captured); fn, when set, is called with the
// result of each day captured. It tries every day and returns the first error.
func (c *Capturer) CaptureRecent(ctx context.Context, org string, from, through archiver.Day, skip func(archiver.Day) bool, fn func(DayResult)) error {
	type sealedDay struct {
		day archiver.Day
		key string
		rev int
	}
	var days []sealedDay
	err := c.Ledger.ListDays(ctx, org, from, func(k ledger.DayKeys) error {
		if k.Day.After(through) {
			return archiver.ErrStopListing
		}
		if k.Revision != "" && (skip == nil || !skip(k.Day)) {
			days = append(days, sealedDay{k.Day, k.Revision, revisionOf(k.Revision)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("attach: days of %s: %w", org, err)
	}
	if len(days) == 0 {
		return nil
	}
	indexes := map[archiver.Day]indexName{}
	prefix := orgPrefix(org) + "index/"
	// Index keys of `from` start with its IndexPrefix; what sorts before is earlier.
	start := strings.TrimSuffix(IndexPrefix(org, from), "r")
	err = archiver.ListAfter(ctx, c.Ledger.Store, prefix, start, func(key string) error {
		n, ok := parseIndexKey(org, key)
		if !ok {
			return nil // verify reports it
		}
		if n.day.After(through) {
			return archiver.ErrStopListing
		}
		indexes[n.day] = n // keys come in order: the last is the latest revision
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return fmt.Errorf("attach: indexes of %s: %w", org, err)
	}
	var first error
	for _, d := range days {
		n, ok := indexes[d.day]
		if ok && !n.failed && d.rev > 0 && n.mrev == d.rev {
			continue // captured, nothing failed, of the latest sealed revision
		}
		if !ok {
			m, err := c.Ledger.ReadManifest(ctx, d.key)
			if err == nil && m.Data.Records == 0 {
				continue // an empty day: nothing to capture
			}
		}
		res, err := c.captureDay(ctx, org, d.day, true)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if first == nil {
				first = err
			}
			continue
		}
		if fn != nil {
			fn(res)
		}
	}
	return first
}

// revisionOf reads the revision from a sealed revision's key (…r0001.json, in every
// layout), 0 when it does not parse.
func revisionOf(key string) int {
	name, ok := strings.CutSuffix(key, ".json")
	i := strings.LastIndexByte(name, 'r')
	if !ok || i < 0 {
		return 0
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return 0
	}
	return n
}

// extendRetention keeps key at least as opt says, where the store can lengthen a lock.
func extendRetention(ctx context.Context, s archiver.Store, key string, opt archiver.CreateOptions) error {
	re, ok := s.(archiver.RetentionExtender)
	if !ok || opt.RetainUntil.IsZero() {
		return nil
	}
	if err := re.ExtendRetention(ctx, key, opt.RetainUntil); err != nil {
		return fmt.Errorf("attach: keep %s until %s: %w", key, opt.RetainUntil.Format(time.DateOnly), err)
	}
	return nil
}

// retention keeps an attachment object as long as the day's records.
func retention(day archiver.Day, retentionDays int) archiver.CreateOptions {
	if retentionDays <= 0 {
		return archiver.CreateOptions{}
	}
	return archiver.CreateOptions{RetainUntil: day.End().AddDate(0, 0, retentionDays)}
}

// references reads the sealed revision m's export and returns its references.
func (c *Capturer) references(ctx context.Context, m *archiver.StoredManifest) ([]Reference, error) {
	if m.Data.Records == 0 || m.Data.Key == "" {
		return nil, nil
	}
	rc, err := c.Ledger.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
	if err != nil {
		return nil, fmt.Errorf("attach: open %s: %w", m.Data.Key, err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("attach: read %s: %w", m.Data.Key, err)
	}
	// Checked against the manifest: a changed export would otherwise choose what is
	// fetched and named by the signed attachment index (archiver.CheckedRecords).
	var refs []Reference
	err = References(archiver.CheckedRecords(zr, m), func(r Reference) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attach: %s: %w", m.Data.Key, err)
	}
	return refs, nil
}

// urlRecord is the record of a URL's first capture for an organization
// (attachments/<org>/urls/<sha256 of the URL>.json): what makes a file fetched once never
// fetched again, whichever day links it next.
type urlRecord struct {
	URL         string `json:"url"`
	Key         string `json:"key"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	// ContentEncoding is the encoding served (Entry.ContentEncoding), "" for none.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	// ServedFrom is the URL that served the bytes after a redirect (Entry.ServedFrom).
	ServedFrom string `json:"servedFrom,omitempty"`
}

// outcome is what resolving one URL gave.
type outcome struct {
	Outcome, Key, SHA256, ContentType, ContentEncoding, ServedFrom, Reason, Detail string
	Size                                                                           int64
	Status, Attempts                                                               int
}

// resolve finds each URL's outcome: captured before (its URL record, or that of the URL
// without its fragment), not allowed (no request), or fetched now, Fetcher.Concurrency at
// a time. URLs that differ only by their fragment, which is never sent, are one fetch.
// fetched holds the sizes of the files fetched.
func (c *Capturer) resolve(ctx context.Context, org string, day archiver.Day, retentionDays int, urls []string) (map[string]outcome, []int64, error) {
	out := make(map[string]outcome, len(urls))
	keep := retention(day, retentionDays)
	// The URL records, attachments.concurrency at a time: a day may link thousands.
	type known struct {
		rec urlRecord
		ok  bool
	}
	recs := make([]known, len(urls))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Fetcher.opt.Concurrency)
	for i, raw := range urls {
		g.Go(func() (err error) {
			defer panics.Recover(&err) // a panic (a bug) is the lookup's error
			var rec urlRecord
			var ok bool
			rec, ok, err = c.lookupURL(gctx, org, raw, keep)
			recs[i] = known{rec, ok}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	groups := map[string][]string{} // URL without fragment -> the URLs linked
	var fetch []string
	for i, raw := range urls {
		if rec := recs[i].rec; recs[i].ok {
			out[raw] = outcome{Outcome: Captured, Key: rec.Key, SHA256: rec.SHA256, Size: rec.Size, ContentType: rec.ContentType, ContentEncoding: rec.ContentEncoding, ServedFrom: rec.ServedFrom}
			continue
		}
		base := withoutFragment(raw)
		if _, fl := c.Fetcher.check(raw); fl != nil {
			out[raw] = outcome{Outcome: Failed, Reason: fl.Reason, Detail: fl.Detail}
			continue
		}
		if _, ok := groups[base]; !ok {
			fetch = append(fetch, base)
		}
		groups[base] = append(groups[base], raw)
	}
	var fetched []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, c.Fetcher.opt.Concurrency)
	for _, base := range fetch {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, n, err := c.captureOneRecovered(ctx, org, day, retentionDays, base, groups[base])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			for _, raw := range groups[base] {
				out[raw] = o
			}
			if n >= 0 {
				fetched = append(fetched, n)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return out, fetched, nil
}

// lookupURL returns the record of raw's capture for org, or that of the request it
// spells (withoutFragment), whose record it then copies for raw (what a legal hold of the
// day holds), and keeps the file as long as this day's records too.
func (c *Capturer) lookupURL(ctx context.Context, org, raw string, keep archiver.CreateOptions) (urlRecord, bool, error) {
	store := c.Ledger.Store
	rec, ok, err := readURLRecord(ctx, store, org, raw)
	if base := withoutFragment(raw); err == nil && !ok && base != raw {
		rec, ok, err = readURLRecord(ctx, store, org, base)
		if err == nil && ok {
			rec.URL = raw
			err = writeURLRecord(ctx, store, org, rec, keep)
		}
	}
	if err != nil || !ok {
		return urlRecord{}, false, err
	}
	// Captured for an earlier day: kept as long as this day's records too.
	if err := extendRetention(ctx, store, rec.Key, keep); err != nil {
		return urlRecord{}, false, err
	}
	return rec, true, nil
}

// withoutFragment is what raw requests (archiver.AttachmentRequestURL: a legal hold
// spells the URL records it holds the same way).
func withoutFragment(raw string) string { return archiver.AttachmentRequestURL(raw) }

// captureOneRecovered is captureOne on a goroutine of its own: a panic (a bug) is its error.
func (c *Capturer) captureOneRecovered(ctx context.Context, org string, day archiver.Day, retentionDays int, base string, raws []string) (o outcome, n int64, err error) {
	defer panics.Recover(&err)
	return c.captureOne(ctx, org, day, retentionDays, base, raws)
}

// captureOne fetches base (a URL without fragment) and stores it: the file first, then
// the URL records of base and of each of raws (the URLs linked, base with their
// fragments), so that a crash between them leaves a file a rerun finds by its hash (an
// idempotent create) and nothing half-stored. n is the file's size, -1 when nothing was
// stored.
func (c *Capturer) captureOne(ctx context.Context, org string, day archiver.Day, retentionDays int, base string, raws []string) (outcome, int64, error) {
	f, err := c.Fetcher.Fetch(ctx, base)
	var fl *Failure
	if errors.As(err, &fl) {
		return outcome{Outcome: Failed, Reason: fl.Reason, Status: fl.Status, Detail: fl.Detail, Attempts: 1}, -1, nil
	}
	if err != nil {
		return outcome{}, -1, err
	}
	defer f.Discard()
	crashpoint.Hit("attach.fetched")
	store := c.Ledger.Store
	key := FileKey(org, f.SHA256)
	keep := retention(day, retentionDays)
	if err := store.Create(ctx, key, f.File, f.Size, f.SHA256, keep); err != nil {
		return outcome{}, -1, fmt.Errorf("attach: store %s: %w", key, err)
	}
	// The same bytes may have been stored for an earlier day (another URL, the same file):
	// Create then wrote nothing, and the lock must still cover this day.
	if err := extendRetention(ctx, store, key, keep); err != nil {
		return outcome{}, -1, err
	}
	crashpoint.Hit("attach.file")
	rec := urlRecord{Key: key, SHA256: hex.EncodeToString(f.SHA256[:]), Size: f.Size, ContentType: f.ContentType, ContentEncoding: f.ContentEncoding, ServedFrom: f.ServedFrom}
	urls := raws
	if !slices.Contains(raws, base) {
		urls = append([]string{base}, raws...) // so that a later fragment of it is known
	}
	for _, u := range urls {
		rec.URL = u
		if err := writeURLRecord(ctx, store, org, rec, keep); err != nil {
			return outcome{}, -1, err
		}
	}
	crashpoint.Hit("attach.url")
	return outcome{Outcome: Captured, Key: key, SHA256: rec.SHA256, Size: f.Size, ContentType: f.ContentType, ContentEncoding: f.ContentEncoding, ServedFrom: f.ServedFrom}, f.Size, nil
}

// writeURLRecord creates rec, the record of rec.URL's capture. Another capture of the
// same URL may have stored other bytes since (the server's file changed): its record
// stands, and this reference keeps the bytes it got.
func writeURLRecord(ctx context.Context, store archiver.Store, org string, rec urlRecord, keep archiver.CreateOptions) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	uk := urlKey(org, rec.URL)
	if err := store.Create(ctx, uk, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), keep); err != nil && !errors.Is(err, archiver.ErrConflict) {
		return fmt.Errorf("attach: store %s: %w", uk, err)
	}
	return nil
}

// readURLRecord reads org's record of url's first capture, if there is one.
func readURLRecord(ctx context.Context, s archiver.Store, org, raw string) (urlRecord, bool, error) {
	key := urlKey(org, raw)
	b, err := archiver.ReadAll(ctx, s, key)
	if errors.Is(err, archiver.ErrNotFound) {
		return urlRecord{}, false, nil
	}
	if err != nil {
		return urlRecord{}, false, fmt.Errorf("attach: %w", err)
	}
	var rec urlRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return urlRecord{}, false, fmt.Errorf("attach: %s: %w", key, err)
	}
	sum, err := hex.DecodeString(rec.SHA256)
	if err != nil || len(sum) != sha256.Size || rec.URL != raw || rec.Key != FileKey(org, [sha256.Size]byte(sum)) {
		return urlRecord{}, false, fmt.Errorf("attach: %s: does not record %s", key, raw)
	}
	return rec, true, nil
}
