package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// Ledger reads what has been committed to a Store.
type Ledger struct {
	Store archiver.Store
	// TrustedKeys, when set, are the public keys a manifest Latest returns must be signed
	// by (serve's signing keys; see checkLatest). Nil: no signature is required.
	TrustedKeys []ed25519.PublicKey
	// HeadWindow is how many chain keys Head may list at once (default DefaultHeadWindow,
	// one page of S3's ListObjectsV2); tests set a small one to reach long chains' law
	// with short chains.
	HeadWindow int
}

// DefaultHeadWindow is Ledger.HeadWindow's default: one S3 listing page.
const DefaultHeadWindow = 1000

func (l Ledger) readManifest(ctx context.Context, key string) (*archiver.StoredManifest, error) {
	b, err := archiver.ReadAll(ctx, l.Store, key)
	if err != nil {
		return nil, err
	}
	m, err := archiver.DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &archiver.StoredManifest{Manifest: m, Key: key, SHA256: sha256.Sum256(b), Bytes: b}, nil
}

// lastKey returns the greatest key under prefix, or "".
func lastKey(ctx context.Context, s archiver.Store, prefix string) (string, error) {
	var last string
	err := s.List(ctx, prefix, func(key string) error {
		last = key
		return nil
	})
	return last, err
}

// Head returns the organization's latest committed manifest, or nil when it has none.
//
// It never lists the whole chain. Chain keys number the manifests 1, 2, 3, … in fixed-width
// digits, so Head reads the manifest at seq W (HeadWindow, 1,000), 2W, 4W, … until one is
// missing, halves the interval between the last present and the first missing until it
// is at most W wide, and lists the keys past its start: one listing of fewer than W keys
// (one S3 page), whose last key is the head. A chain shorter than W costs one read (a
// miss), one listing and the head's read; one of K ≥ W about 2·log2(K/W) more reads,
// each a direct lookup on any store. On a damaged chain (a manifest missing, so the reads
// stopped short), that listing meets W keys or more and Head lists the whole chain, as
// before: the head it returns is always the chain's last key (verify reports the damage).
//
// A process remembers the head each Head found (per store and organization): the next
// Head of that organization, the next day's seal say, starts there instead, with one
// listing past it (which returns only the manifests committed since) and one read, two
// requests. The remembered seq is only where to start: the head is the greatest key
// either way, whoever committed it.
//
// In a store with a layout marker (layout.json, layout 3), Head looks in layout 3 first
// and falls back to the above when the organization has no layout-3 manifest (see head3).
//
// The head found must be the manifest sealed at its key (checkHeadAt): an old manifest
// copied to where the head is looked for fails Head, wrapping ErrUntrustedManifest.
func (l Ledger) Head(ctx context.Context, org string) (*archiver.StoredManifest, error) {
	m, err := l.head(ctx, org)
	if err != nil || m == nil {
		return m, err
	}
	if err := checkHeadAt(m, org); err != nil {
		if hk, ok := archiver.HeadHintKeyOf(l.Store, org); ok {
			archiver.HeadHints.DeleteFunc(func(k archiver.HeadHintKey) bool { return k == hk })
		}
		return nil, err
	}
	return m, nil
}

// checkHeadAt checks that m, found as org's chain head, is the manifest sealed at its key:
// org's, and at the chain key of its seq (layout 2), the day key of its date and revision
// (layout 3), or the late copy key of its seq. Head reads the manifest under the last key
// where a head can be; someone who can write to the store (no key needed) could copy an
// old, validly signed manifest there, a later day key (d/2099/12/31.r0001.json) or the
// next chain key, and Head would return it: the witness would record that old head, so
// that the manifests after it could then be deleted unseen, and the next seal would
// commit a second manifest at a seq the chain holds already, a fork a locking store keeps
// for good. Failing is what a head that does not parse does already.
func checkHeadAt(m *archiver.StoredManifest, org string) error {
	ok := m.Org == org && m.Seq >= 1
	if seq, late := archiver.ParseLateKey(org, m.Key); ok && late {
		ok = seq == m.Seq && m.Version >= archiver.ManifestVersion3
	} else if ok && archiver.KeyLayout(m.Key) == archiver.Layout3 {
		day, err := archiver.ParseDay(m.Date)
		ok = err == nil && m.Version >= archiver.ManifestVersion3 && m.Revision >= 1 && archiver.DayKey3(org, day, m.Revision) == m.Key
	} else if ok {
		ok = m.Version < archiver.ManifestVersion3 && archiver.ChainKey(org, m.Seq) == m.Key
	}
	if !ok {
		return fmt.Errorf("%s: %w: found as organization %s's chain head, it says organization %s, seq %d, day %s, revision %d "+
			"(copied there by someone with write access to the store? chatvault verify reports it)", m.Key, ErrUntrustedManifest, org, m.Org, m.Seq, m.Date, m.Revision)
	}
	return nil
}

// head is Head without the check of the manifest it finds.
func (l Ledger) head(ctx context.Context, org string) (*archiver.StoredManifest, error) {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return nil, err
	}
	hk, hinted := archiver.HeadHintKeyOf(l.Store, org)
	var h archiver.HeadHint
	if hinted {
		if v, ok := archiver.HeadHints.Load(hk); ok {
			h = v
		}
	}
	if sl != nil {
		return l.head3(ctx, org, h)
	}
	return l.head2(ctx, org, h)
}

// head2 is Head in layout 2 (see Head).
func (l Ledger) head2(ctx context.Context, org string, h archiver.HeadHint) (*archiver.StoredManifest, error) {
	if h.Seq > 0 && h.Tip == "" && !h.Layout3 {
		m, err := l.headFrom(ctx, org, h.Seq)
		if err != nil || m != nil {
			return m, err
		}
	}
	m, err := l.probeHead(ctx, org)
	if err == nil && m != nil {
		rememberHead(l.Store, org, m.Key)
	}
	return m, err
}

// rememberHead remembers the head's key (its seq) for the next Head of org in s.
func rememberHead(s archiver.Store, org, key string) {
	hk, ok := archiver.HeadHintKeyOf(s, org)
	seq, ok2 := archiver.ParseSeq(org, key)
	if ok && ok2 {
		archiver.HeadHints.Store(hk, archiver.HeadHint{Seq: seq, Key: key})
	}
}

// headFrom finds the head from a remembered seq: the last key listed past it, or the
// manifest at seq itself when none follows. It returns nil when seq's manifest does not
// exist (not this store's chain): the caller probes.
func (l Ledger) headFrom(ctx context.Context, org string, seq int64) (*archiver.StoredManifest, error) {
	last, err := lastKeyAfter(ctx, l.Store, archiver.ChainPrefix(org), archiver.ChainKey(org, seq))
	if err != nil {
		return nil, err
	}
	if last != "" {
		m, err := l.readManifest(ctx, last)
		if err == nil {
			rememberHead(l.Store, org, last)
		}
		return m, err
	}
	m, err := l.readManifest(ctx, archiver.ChainKey(org, seq))
	if errors.Is(err, archiver.ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// lastKeyAfter returns the greatest key under prefix after startAfter, or "".
func lastKeyAfter(ctx context.Context, s archiver.Store, prefix, startAfter string) (string, error) {
	var last string
	err := archiver.ListAfter(ctx, s, prefix, startAfter, func(key string) error {
		last = key
		return nil
	})
	return last, err
}

// probeHead is Head without a remembered seq (see Head).
func (l Ledger) probeHead(ctx context.Context, org string) (*archiver.StoredManifest, error) {
	w := int64(l.HeadWindow)
	if w <= 0 {
		w = DefaultHeadWindow
	}
	var read, loBytes []byte // the manifest the last read found, and the one at lo
	exists := func(seq int64) (bool, error) {
		b, err := archiver.ReadAll(ctx, l.Store, archiver.ChainKey(org, seq))
		if errors.Is(err, archiver.ErrNotFound) {
			return false, nil
		}
		read = b
		return err == nil, err
	}
	lo, hi := int64(0), w // lo present (0: none known), hi missing
	ok, err := exists(w)
	if err != nil {
		return nil, err
	}
	if ok {
		lo, loBytes = w, read
		for {
			if lo >= maxChainSeq/2 {
				return l.headByListing(ctx, org)
			}
			hi = lo * 2
			if ok, err = exists(hi); err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			lo, loBytes = hi, read
		}
		for hi-lo > w {
			mid := lo + (hi-lo)/2
			if ok, err = exists(mid); err != nil {
				return nil, err
			}
			if ok {
				lo, loBytes = mid, read
			} else {
				hi = mid
			}
		}
	}
	// The head is lo or one of the fewer than w keys after it, unless the chain is damaged.
	startAfter := archiver.ChainPrefix(org)
	if lo > 0 {
		startAfter = archiver.ChainKey(org, lo)
	}
	var last string
	var n int64
	err = archiver.ListAfter(ctx, l.Store, archiver.ChainPrefix(org), startAfter, func(key string) error {
		last, n = key, n+1
		if n >= w {
			return archiver.ErrStopListing
		}
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return nil, err
	}
	switch {
	case n >= w:
		return l.headByListing(ctx, org) // a damaged chain: see Head
	case last != "":
		return l.readManifest(ctx, last)
	case lo > 0:
		key := archiver.ChainKey(org, lo)
		m, err := archiver.DecodeManifest(loBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return &archiver.StoredManifest{Manifest: m, Key: key, SHA256: sha256.Sum256(loBytes), Bytes: loBytes}, nil
	}
	return nil, nil
}

// maxChainSeq bounds the probes of Head: chain keys have twelve digits.
const maxChainSeq = 1_000_000_000_000

// headByListing is Head by listing the whole chain: the greatest key is the head.
func (l Ledger) headByListing(ctx context.Context, org string) (*archiver.StoredManifest, error) {
	key, err := lastKey(ctx, l.Store, archiver.ChainPrefix(org))
	if err != nil || key == "" {
		return nil, err
	}
	return l.readManifest(ctx, key)
}

// Latest returns the latest revision of the organization's day, or nil when the day has
// not been sealed. A manifest that is not the one its key names, or (with TrustedKeys) not
// signed by a trusted key, is an error wrapping ErrUntrustedManifest (see checkLatest).
//
// In a store with a layout marker, the day is looked up in layout 3 first and, for a day
// before the marker's since, in layout 2 when layout 3 has no manifest of it.
func (l Ledger) Latest(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, error) {
	key, err := l.latestKey(ctx, org, day)
	if err != nil || key == "" {
		return nil, err
	}
	m, err := l.readFirstManifest(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := l.checkLatest(m, org, day); err != nil {
		return nil, err
	}
	return m, nil
}

// LatestKey returns the key of the latest revision of the organization's day, "" when the
// day has not been sealed, from a listing alone: nothing is read or checked (Latest
// reads and checks the manifest). For an answer about the day that must not cost a
// manifest's download (the API's HEAD of a manifest).
func (l Ledger) LatestKey(ctx context.Context, org string, day archiver.Day) (string, error) {
	return l.latestKey(ctx, org, day)
}

// SealedDays calls fn, oldest first, with every day of org that has a committed revision
// (a day index), from one listing of the organization's days (ListDays). A day whose
// chain manifest was written but whose index was not (a crash in between) is not
// reported; sealing it again restores the index and changes nothing (see writer.stage).
func (l Ledger) SealedDays(ctx context.Context, org string, fn func(archiver.Day) error) error {
	return l.SealedDaysFrom(ctx, org, archiver.Day{}, fn)
}

// SealedDaysFrom is SealedDays for the days from `from` on (every day when from is zero):
// the listing starts at from, so the days before it cost nothing (see ListDays).
func (l Ledger) SealedDaysFrom(ctx context.Context, org string, from archiver.Day, fn func(archiver.Day) error) error {
	return l.ListDays(ctx, org, from, func(k DayKeys) error {
		if k.Revision == "" {
			return nil
		}
		return fn(k.Day)
	})
}

// DayKeys is what a listing of an organization's days shows of one day: the key of its
// latest day index (r<rev>.json, "" when it has none: not sealed) and of its latest
// failed attempt (failed-<ms>.json, "" when none).
type DayKeys struct {
	Day      archiver.Day
	Revision string
	Failed   string
}

// ListDays calls fn, oldest first, with each day of org from `from` on (every day when
// from is zero) that has a day index or a failed attempt, from one listing of the
// organization's days that starts at from (ListAfter: on S3 ListObjectsV2 with
// StartAfter, in pages of a thousand keys; in a folder, only the day folders from `from`
// on are entered). fn may return ErrStopListing to end the listing early (past the end
// of a range, say); ListDays then returns nil. Days with neither (pending) are not
// reported: the caller knows which days it asked about.
//
// In a store with a layout marker, the days are listed in layout 3 and, for the part of
// the range before the marker's since, in layout 2 too (one more listing); a day found in
// both is reported once, its latest revision taken from layout 3.
func (l Ledger) ListDays(ctx context.Context, org string, from archiver.Day, fn func(DayKeys) error) error {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return err
	}
	if sl == nil {
		return l.listDays2(ctx, org, from, fn)
	}
	return l.listDaysMixed(ctx, org, from, sl.SinceDay(), fn)
}

// listDays2 is ListDays in layout 2.
func (l Ledger) listDays2(ctx context.Context, org string, from archiver.Day, fn func(DayKeys) error) error {
	root := "orgs/" + org + "/days/"
	startAfter := ""
	if !from.IsZero() {
		// The day's own keys, root+date+"/…", sort after root+date; earlier days' before.
		startAfter = root + from.String()
	}
	var cur DayKeys
	var curDate string
	valid := false
	flush := func() error {
		if valid && (cur.Revision != "" || cur.Failed != "") {
			return fn(cur)
		}
		return nil
	}
	err := archiver.ListAfter(ctx, l.Store, root, startAfter, func(key string) error {
		date, name, ok := strings.Cut(key[len(root):], "/")
		if !ok || strings.Contains(name, "/") {
			return nil
		}
		if date != curDate {
			if err := flush(); err != nil {
				return err
			}
			curDate, cur = date, DayKeys{}
			d, err := archiver.ParseDay(date)
			valid = err == nil // not a day of ours otherwise
			cur.Day = d
		}
		switch {
		case archiver.IsRevisionName(name):
			cur.Revision = key // keys come in order: the last is the latest
		case strings.HasPrefix(name, "failed-"):
			cur.Failed = key
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if errors.Is(err, archiver.ErrStopListing) {
		return nil
	}
	return err
}

// Failed reports whether an attempt to seal the day failed, and its last error message.
func (l Ledger) Failed(ctx context.Context, org string, day archiver.Day) (bool, string, error) {
	key, err := l.lastFailedKey(ctx, org, day)
	if err != nil || key == "" {
		return false, "", err
	}
	b, err := archiver.ReadAll(ctx, l.Store, key)
	if err != nil {
		return true, "", err
	}
	return true, strings.TrimSpace(string(b)), nil
}

// OpenExport returns the day's latest export as stored (gzip) with its manifest.
func (l Ledger) OpenExport(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	m, err := l.Latest(ctx, org, day)
	if err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, fmt.Errorf("%s %s: %w", org, day, ErrNotSealed)
	}
	if m.Version >= archiver.ManifestVersion3 && m.Data.Keyless() {
		// A day without records names no object in layout 3: its export is the constant
		// gzip of nothing, which Latest's checks (the key, the signature) cover like any
		// manifest's export.
		if m.Data.Records != 0 || m.Data.JSONLSize != 0 || m.Data.JSONLSHA256 != archiver.EmptySHA256 {
			return nil, nil, fmt.Errorf("%s: %w: it names no export but says it has records", m.Key, ErrUntrustedManifest)
		}
		return m, io.NopCloser(bytes.NewReader(archiver.EmptyExport())), nil
	}
	rc, err := l.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
	if err != nil {
		return nil, nil, err
	}
	return m, rc, nil
}

// ErrNotSealed is returned (wrapped) when a day has no committed manifest.
var ErrNotSealed = errors.New("day not sealed")

// DayState is a day's state for an organization.
type DayState string

// Day states, as status and the API report them.
const (
	StateSealed  DayState = "sealed"  // committed with at least one record
	StateEmpty   DayState = "empty"   // committed with no records
	StatePending DayState = "pending" // not committed yet
	StateFailed  DayState = "failed"  // the last attempt failed and none succeeded
)

// DayStatus is one row of status.
type DayStatus struct {
	Org      string
	Day      archiver.Day
	State    DayState
	Manifest *archiver.StoredManifest // set when sealed or empty
	Error    string                   // set when failed
	// FailedLater is set on a sealed or empty day whose latest attempt failed after its
	// latest revision was sealed (a rerun refused for dropping records, say): the message
	// of that failure, while the revision before stays served (see FailedSince).
	FailedLater string
}

// DayKeys returns what one listing of the day's folder shows: its latest day index and
// its latest failed attempt (a direct lookup, bounded by the day's own objects).
//
// In a store with a layout marker, the day is listed in layout 3 and, for a day before the
// marker's since without a layout-3 revision, in layout 2 too.
func (l Ledger) DayKeys(ctx context.Context, org string, day archiver.Day) (DayKeys, error) {
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return DayKeys{Day: day}, err
	}
	inNew, inOld := lookIn(sl, day)
	k := DayKeys{Day: day}
	if inNew {
		if k, err = l.dayKeys3(ctx, org, day); err != nil || k.Revision != "" || !inOld {
			return k, err
		}
	}
	old, err := l.dayKeys2(ctx, org, day)
	if err != nil {
		return k, err
	}
	old.Failed = laterFailed(old.Failed, k.Failed)
	return old, nil
}

// dayKeys2 is DayKeys in layout 2.
func (l Ledger) dayKeys2(ctx context.Context, org string, day archiver.Day) (DayKeys, error) {
	k := DayKeys{Day: day}
	p := archiver.DayPrefix(org, day)
	err := l.Store.List(ctx, p, func(key string) error {
		name := key[len(p):]
		switch {
		case archiver.IsRevisionName(name):
			k.Revision = key
		case strings.HasPrefix(name, "failed-"):
			k.Failed = key
		}
		return nil
	})
	return k, err
}

// Status reports the state of each day from..to (inclusive) for org, from one listing of
// the organization's days that starts at from and stops past to (ListDays), and one read
// per day it reports: the latest revision's manifest of a sealed or empty day, the
// message of a failed one (and of a failure after a sealed day's revision: FailedLater).
// Pending days cost nothing; nor do the days before and after the range.
func (l Ledger) Status(ctx context.Context, org string, from, to archiver.Day) ([]DayStatus, error) {
	var out []DayStatus
	next := from
	pending := func(until archiver.Day) {
		for ; next.Before(until); next = next.Next() {
			out = append(out, DayStatus{Org: org, Day: next, State: StatePending})
		}
	}
	err := l.ListDays(ctx, org, from, func(k DayKeys) error {
		if k.Day.After(to) {
			return archiver.ErrStopListing
		}
		if k.Day.Before(next) {
			return nil
		}
		pending(k.Day)
		st, err := l.dayStatus(ctx, org, k)
		if err != nil {
			return err
		}
		out = append(out, st)
		next = k.Day.Next()
		return nil
	})
	if err != nil {
		return nil, err
	}
	pending(to.Next())
	return out, nil
}

// dayStatus reads what the listing of a day (k) says it holds.
func (l Ledger) dayStatus(ctx context.Context, org string, k DayKeys) (DayStatus, error) {
	st := DayStatus{Org: org, Day: k.Day, State: StatePending}
	if k.Revision == "" {
		if k.Failed != "" {
			b, err := archiver.ReadAll(ctx, l.Store, k.Failed)
			if err != nil {
				return st, err
			}
			st.State, st.Error = StateFailed, strings.TrimSpace(string(b))
		}
		return st, nil
	}
	m, err := l.readFirstManifest(ctx, k.Revision)
	if err != nil {
		return st, err
	}
	if err := l.checkLatest(m, org, k.Day); err != nil {
		return st, err
	}
	st.Manifest, st.State = m, StateSealed
	if m.Data.Records == 0 {
		st.State = StateEmpty
	}
	if k.Failed != "" {
		if st.FailedLater, err = l.failedAfter(ctx, org, k.Day, k.Failed, m); err != nil {
			return st, err
		}
	}
	return st, nil
}

// LatestAccountings calls fn, oldest first, with the latest accounting object of each day
// from..to that has one: one listing of the accounting objects that starts at from and
// stops past to, and one read per day reported (the earlier objects of a day are not
// read).
func (l Ledger) LatestAccountings(ctx context.Context, from, to archiver.Day, fn func(archiver.Day, *archiver.StoredAccounting) error) error {
	var latest string
	var latestDay archiver.Day
	flush := func() error {
		if latest == "" {
			return nil
		}
		a, err := l.readAccounting(ctx, latest)
		if err != nil {
			return err
		}
		latest = ""
		return fn(latestDay, a)
	}
	err := archiver.ListAfter(ctx, l.Store, archiver.AccountingPrefix, archiver.AccountingPrefix+from.String(), func(key string) error {
		day, _, _, ok := archiver.ParseAccountingKey(key)
		if !ok || day.Before(from) {
			return nil // not an accounting object; verify reports it
		}
		if day.After(to) {
			return archiver.ErrStopListing
		}
		if latest != "" && day != latestDay {
			if err := flush(); err != nil {
				return err
			}
		}
		latest, latestDay = key, day
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return fmt.Errorf("list accounting: %w", err)
	}
	return flush()
}
