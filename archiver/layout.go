package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Layout 3 (docs/design/layout.md): one object per empty organization-day, two per day
// with records. The manifest is stored once, under its day; the chain order is kept in
// the manifests (seq, previous, previousKey) and in the keys: among an organization's
// manifests that are not late, key order is seq order.
//
//	orgs/<org>/d/<yyyy>/<mm>/<dd>.r<rev>.json                  the manifest of a revision (the commit)
//	orgs/<org>/d/<yyyy>/<mm>/<dd>.events-<sha>.jsonl.gz        the export; absent when the day has no record
//	orgs/<org>/d/<yyyy>/<mm>/<dd>.quarantine-<sha>.jsonl.gz    the org's quarantined lines of the day
//	orgs/<org>/d/<yyyy>/<mm>/<dd>.chatindex-<sha>.json         the chat index, only when over 64 KiB inline
//	orgs/<org>/d/<yyyy>/<mm>/<dd>.failed-<ms>.json             a failed attempt
//	orgs/<org>/late/<seq>.json                                 a late commit's copy, keyed by seq
//	orgs/<org>/members/<yyyy>/<sha>.json                       the members of the org's chats
//	layout.json                                                the store's layout marker
//
// Within a day the manifests sort last ("chatindex-" < "events-" < "failed-" <
// "quarantine-" < "r"), revisions in order: a listing of a day prefix ends with its latest
// revision, a listing of a month with its last day's latest revision.

// Store layouts, as KeyLayout and StoreLayout.Version report them.
const (
	// Layout2 is the layout of version 1 and 2 manifests: orgs/<org>/manifests/<seq>.json
	// (the chain) and orgs/<org>/days/<date>/ (the day folders).
	Layout2 = 2
	// Layout3 is orgs/<org>/d/, late/ and members/ (docs/design/layout.md).
	Layout3 = 3
)

// LayoutKey is the key of the store's layout marker (StoreLayout).
const LayoutKey = "layout.json"

func orgPrefix(org string) string { return "orgs/" + org + "/" }

// DayRoot3 is the prefix of every layout-3 day key of org.
func DayRoot3(org string) string { return orgPrefix(org) + "d/" }

// YearPrefix3 is the prefix of org's layout-3 days of year y.
func YearPrefix3(org string, y int) string { return fmt.Sprintf("%s%04d/", DayRoot3(org), y) }

// monthPrefix3 is the prefix of org's layout-3 days of day's month.
func monthPrefix3(org string, day Day) string {
	t := day.Start()
	return fmt.Sprintf("%s%04d/%02d/", DayRoot3(org), t.Year(), int(t.Month()))
}

// DayPrefix3 is the prefix of org's layout-3 objects of day: a name prefix, not a folder.
func DayPrefix3(org string, day Day) string {
	return fmt.Sprintf("%s%02d.", monthPrefix3(org, day), day.Start().Day())
}

// DayStart3 is what a listing of org's layout-3 days from day on starts after: it sorts
// after every key of the days before and before every key of day.
func DayStart3(org string, day Day) string {
	p := DayPrefix3(org, day)
	return p[:len(p)-1]
}

// DayKey3 is the key of org's manifest of revision rev of day.
func DayKey3(org string, day Day, rev int) string {
	return fmt.Sprintf("%sr%04d.json", DayPrefix3(org, day), rev)
}

func dataKey3(org string, day Day, sum [sha256.Size]byte) string {
	return DayPrefix3(org, day) + "events-" + HexSum(sum) + ".jsonl.gz"
}

func orgQuarantineKey3(org string, day Day, sum [sha256.Size]byte) string {
	return DayPrefix3(org, day) + "quarantine-" + HexSum(sum) + ".jsonl.gz"
}

func chatIndexKey3(org string, day Day, sum [sha256.Size]byte) string {
	return DayPrefix3(org, day) + "chatindex-" + HexSum(sum) + ".json"
}

// FailedPrefix3 starts the keys of org's failed attempts of day in layout 3.
func FailedPrefix3(org string, day Day) string { return DayPrefix3(org, day) + "failed-" }

// LatePrefix is the prefix of org's late copies.
func LatePrefix(org string) string { return orgPrefix(org) + "late/" }

// LateKey is the key of the copy of org's late manifest seq.
func LateKey(org string, seq int64) string { return fmt.Sprintf("%s%012d.json", LatePrefix(org), seq) }

// MembersPrefix is the prefix of org's members objects.
func MembersPrefix(org string) string { return orgPrefix(org) + "members/" }

// membersKey names org's members object of year y by its SHA-256.
func membersKey(org string, y int, sum [sha256.Size]byte) string {
	return fmt.Sprintf("%s%04d/%s.json", MembersPrefix(org), y, HexSum(sum))
}

// ParseLateKey returns the seq a late copy's key of org names.
func ParseLateKey(org, key string) (int64, bool) {
	s, ok := strings.CutPrefix(key, LatePrefix(org))
	if !ok {
		return 0, false
	}
	return parseSeqName(s)
}

func parseSeqName(s string) (int64, bool) {
	s, ok := strings.CutSuffix(s, ".json")
	if !ok || len(s) != 12 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// ParseDayKey3 splits a layout-3 day key of org into its day and the name after "<dd>.".
func ParseDayKey3(org, key string) (Day, string, bool) {
	s, ok := strings.CutPrefix(key, DayRoot3(org))
	// yyyy/mm/dd.name
	if !ok || len(s) < 12 || s[4] != '/' || s[7] != '/' || s[10] != '.' {
		return Day{}, "", false
	}
	d, err := ParseDay(s[0:4] + "-" + s[5:7] + "-" + s[8:10])
	if err != nil || strings.Contains(s[11:], "/") {
		return Day{}, "", false
	}
	return d, s[11:], true
}

// ParseRevisionName returns the revision of a manifest's name within its day,
// r<rev>.json (four digits or more).
func ParseRevisionName(name string) (int, bool) {
	n, ok := strings.CutPrefix(name, "r")
	if !ok {
		return 0, false
	}
	n, ok = strings.CutSuffix(n, ".json")
	if !ok || len(n) < 4 {
		return 0, false
	}
	r, err := strconv.ParseUint(n, 10, 31)
	return int(r), err == nil
}

// KeyLayout tells which layout an organization's key belongs to from the key alone:
// Layout3 for orgs/<org>/d/, late/ and members/, Layout2 for orgs/<org>/manifests/ and
// days/, 0 for anything else (the store's other objects, or not a key of ours).
func KeyLayout(key string) int {
	rest, ok := strings.CutPrefix(key, "orgs/")
	if !ok {
		return 0
	}
	_, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return 0
	}
	dir, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0
	}
	switch dir {
	case "d", "late", "members":
		return Layout3
	case "manifests", "days":
		return Layout2
	}
	return 0
}

// StoreLayout is the store's layout marker, layout.json: written create-only by the first
// writer of layout 3 before its first manifest, never changed. Readers use it to save
// requests: a store without it has only layout-2 keys; with it, a day at or after Since is
// looked up in layout 3 only, a day before it in layout 3 first (a late revision made after
// the upgrade lives there), then in layout 2.
type StoreLayout struct {
	Version int `json:"version"`
	// Since is the first day the first writer of layout 3 sealed (YYYY-MM-DD).
	Since string `json:"since"`
}

// SinceDay is Since parsed (the zero Day when it does not parse: every day is then looked
// up in both layouts).
func (sl *StoreLayout) SinceDay() Day {
	if sl == nil {
		return Day{}
	}
	d, _ := ParseDay(sl.Since)
	return d
}

// ErrForgedLayout is returned (wrapped) when the store's layout marker contradicts what the
// store holds (see head2Marked).
var ErrForgedLayout = errors.New("layout marker does not match the store")

// ErrUnknownLayout is returned (wrapped) for a store whose layout.json names a layout this
// build does not know: a newer release wrote it, and this one must not write beside it.
var ErrUnknownLayout = errors.New("store layout unknown to this build")

func encodeStoreLayout(sl StoreLayout) []byte {
	b, _ := json.Marshal(sl) // two plain fields: cannot fail
	return append(b, '\n')
}

// ReadStoreLayout reads the store's layout marker: nil, nil when there is none (a store
// only layout 2 ever wrote to).
func ReadStoreLayout(ctx context.Context, s Store) (*StoreLayout, error) {
	b, err := readAll(ctx, s, LayoutKey)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sl StoreLayout
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sl); err != nil {
		return nil, fmt.Errorf("%s: %w", LayoutKey, err)
	}
	if sl.Version != Layout3 {
		return nil, fmt.Errorf("%s: version %d: %w", LayoutKey, sl.Version, ErrUnknownLayout)
	}
	if _, err := ParseDay(sl.Since); err != nil {
		return nil, fmt.Errorf("%s: since: %w", LayoutKey, err)
	}
	return &sl, nil
}

// WriteStoreLayout creates the store's layout marker for layout 3 from since on, unless
// one exists (which is kept, whatever its since: the first writer's day stands). It
// returns the marker in force.
func WriteStoreLayout(ctx context.Context, s Store, since Day) (*StoreLayout, error) {
	if sl, err := ReadStoreLayout(ctx, s); err != nil || sl != nil {
		if sl != nil {
			rememberLayout(s, sl)
		}
		return sl, err
	}
	b := encodeStoreLayout(StoreLayout{Version: Layout3, Since: since.String()})
	err := s.Create(ctx, LayoutKey, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), CreateOptions{})
	if err != nil && !errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("write %s: %w", LayoutKey, err)
	}
	// A conflict: another writer made it first, with another day. Read what it wrote.
	sl, err := ReadStoreLayout(ctx, s)
	if err == nil && sl == nil {
		err = fmt.Errorf("%s: not found after it was written", LayoutKey)
	}
	if err != nil {
		return nil, err
	}
	rememberLayout(s, sl)
	return sl, nil
}

// The marker is read once per process and store, and remembered: once present it never
// changes (create-only). Its absence is remembered for absentLayoutTTL only, so that a
// long-running reader (serve) sees a store another process moved to layout 3 within a
// minute; the writer of this process remembers the marker it writes at once.
const AbsentLayoutTTL = time.Minute

// LayoutHint is what a process remembers of a store's layout marker: the marker, or nil
// for its absence, and when it was read.
type LayoutHint struct {
	Layout *StoreLayout
	At     time.Time
}

// LayoutHints remembers each store's LayoutHint, by store (a pointer; see LayoutStore).
var LayoutHints sync.Map // Store (a pointer) → LayoutHint

func rememberLayout(s Store, sl *StoreLayout) {
	if s = LayoutStore(s); s != nil {
		LayoutHints.Store(s, LayoutHint{Layout: sl, At: time.Now()})
	}
}

// LayoutUnwrapper is a Store that wraps another (a counting or fault-injecting wrapper):
// the layout marker remembered for the store it wraps is its own.
type LayoutUnwrapper interface {
	Unwrap() Store
}

// LayoutStore returns the store whose marker s has: the innermost wrapped store, when it
// is a pointer (every store this program opens is); nil otherwise (never remembered).
func LayoutStore(s Store) Store {
	for {
		u, ok := s.(LayoutUnwrapper)
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	if s == nil || reflect.TypeOf(s).Kind() != reflect.Pointer {
		return nil
	}
	return s
}

// emptyExport is the gzip of nothing, built once: what a version 3 day without records
// serves in place of an object (its manifest names none).
var emptyExport = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzipLevel) // a valid level: cannot fail
	_ = zw.Close()                              // into memory: cannot fail
	return b.Bytes()
})

// FailedKeyFor is where a failed attempt of org's day at ms is recorded: in layout 3 in a
// store with a marker, in layout 2 otherwise.
func FailedKeyFor(sl *StoreLayout, org string, day Day, ms int64) string {
	p := FailedPrefix(org, day)
	if sl != nil {
		p = FailedPrefix3(org, day)
	}
	return p + strconv.FormatInt(ms, 10) + ".json"
}
