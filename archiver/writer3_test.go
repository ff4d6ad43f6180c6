package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

const (
	acmeOrg   = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	globexOrg = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

// layout3Clock is after every day the layout-3 tests seal.
func layout3Clock() time.Time { return time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC) }

// layout3Log makes an event log from testdata's: 2026-11-22 as it is, 2026-11-23 a copy of
// it, 2026-11-24 an empty partition, 2026-11-25 two plain records (Acme's and one of a
// chat of Acme and Globex).
func layout3Log(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "testdata", "eventlog")
	copyFile(t, filepath.Join(src, "directory.json"), filepath.Join(dir, "directory.json"))
	entries, err := os.ReadDir(filepath.Join(src, "2026-11-22"))
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"2026-11-22", "2026-11-23"} {
		for _, e := range entries {
			copyFile(t, filepath.Join(src, "2026-11-22", e.Name()), filepath.Join(dir, day, e.Name()))
		}
	}
	writeFile3(t, filepath.Join(dir, "2026-11-24", "_CLOSED"), nil)
	first, err := os.ReadFile(filepath.Join(src, "2026-11-22", "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(first, []byte("\n"))
	writeFile3(t, filepath.Join(dir, "2026-11-25", "part-0001.jsonl"), bytes.Join(lines[:2], nil))
	writeFile3(t, filepath.Join(dir, "2026-11-25", "_CLOSED"), nil)
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile3(t, to, b)
}

func writeFile3(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addRecord adds a record to day's partition: a copy of its first record under another
// message id, so that a rerun's records are a superset (a new revision).
func addRecord(t *testing.T, logDir, day, id string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(logDir, day, "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	var ev map[string]any
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	ev["messageId"] = id
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	writeFile3(t, filepath.Join(logDir, day, "part-9"+id+".jsonl"), append(out, '\n'))
}

func sealWith(t *testing.T, f *fixture, store archiver.Store, day string, opt archiver.Options) *archiver.DayResult {
	t.Helper()
	// The nightly seal: half an hour after the day's end.
	night := mustDay(day).End().Add(30 * time.Minute)
	opt.Now, opt.Generator, opt.TempDir = func() time.Time { return night }, "chatvault test", t.TempDir()
	whole := wholeResults(&opt)
	s := &archiver.Sealer{Source: f.src, Store: store, Chain: ledger.Ledger{Store: store}, Options: opt}
	res, err := s.Seal(context.Background(), mustDay(day), f.directory, "")
	if err != nil {
		t.Fatalf("seal %s: %v", day, err)
	}
	whole(res)
	return res
}

func mustSeal3(t *testing.T, f *fixture, store archiver.Store, day string) *archiver.DayResult {
	t.Helper()
	res := sealWith(t, f, store, day, archiver.Options{Layout: archiver.Layout3})
	for _, o := range res.Failed() {
		t.Fatalf("%s: org %s failed: %v", day, o.Org, o.Err)
	}
	return res
}

func listKeys(t *testing.T, s archiver.Store, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := s.List(context.Background(), prefix, func(k string) error {
		out[k] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// newKeys returns the keys of after not in before, by organization.
func newKeys(before, after map[string]bool) map[string][]string {
	out := map[string][]string{}
	for k := range after {
		if !before[k] {
			org, _, _ := strings.Cut(strings.TrimPrefix(k, "orgs/"), "/")
			out[org] = append(out[org], k)
		}
	}
	return out
}

// TestLayout3ObjectsPerOrgDay counts the objects a seal creates per organization-day, in
// layout 2 and in layout 3: layout 3 stores one object for an empty day (its manifest)
// and two for a day with records (export and manifest), against four for either in
// layout 2 (chain entry, day index, export, chat index).
func TestLayout3ObjectsPerOrgDay(t *testing.T) {
	logDir := layout3Log(t)
	requests := map[int]map[string]int{} // layout → day → requests of its seal
	for _, tt := range []struct {
		layout             int
		empty, withRecords int
	}{
		{archiver.Layout2, 4, 4},
		{archiver.Layout3, 1, 2},
	} {
		f := newFixture(t, logDir)
		opt := archiver.Options{Layout: tt.layout}
		// One process: the first days make the chains (and, in layout 3, the marker and
		// the members objects), and the heads it remembers.
		c := storetest.NewCounting(f.store)
		sealWith(t, f, c, "2026-11-22", opt)
		sealWith(t, f, c, "2026-11-23", opt)
		requests[tt.layout] = map[string]int{}
		for _, d := range []struct {
			day  string
			want int
		}{{"2026-11-24", tt.empty}, {"2026-11-25", tt.withRecords}} {
			before := listKeys(t, f.store, "orgs/")
			c.Reset()
			res := sealWith(t, f, c, d.day, opt)
			if len(res.Failed()) > 0 || len(res.Orgs) != 2 {
				t.Fatalf("layout %d, %s: %+v", tt.layout, d.day, res.Orgs)
			}
			n := c.Counts()
			got := newKeys(before, listKeys(t, f.store, "orgs/"))
			for _, o := range res.Orgs {
				if len(got[o.Org]) != d.want {
					t.Errorf("layout %d, %s: organization %s got %d new objects %q; want %d", tt.layout, d.day, o.Name, len(got[o.Org]), got[o.Org], d.want)
				}
			}
			requests[tt.layout][d.day] = n.Requests()
			t.Logf("layout %d, %s: %d new objects per organization; store requests of the seal (2 organizations): %v", tt.layout, d.day, d.want, n)
		}
	}
	// Layout 3 asks no more of the store than layout 2 for the same days, though it adds
	// the post-commit fork check (two listings per organization-day).
	for day, n := range requests[archiver.Layout3] {
		if n > requests[archiver.Layout2][day] {
			t.Errorf("%s: layout 3's seal made %d store requests, layout 2's %d", day, n, requests[archiver.Layout2][day])
		}
	}
	reliability.Record(t, "operations", "objects per organization-day in layout 3", reliability.Kept,
		"an empty day stores one object (its manifest), a day with records two (export and manifest), against four in layout 2; counted from the keys a seal adds")
}

// TestLayout3Chain seals days in layout 2, then in layout 3, then revises an older day:
// one chain across the boundary (previousKey names the old chain key), an empty day names
// no object and serves the empty gzip, and the revision of an older day is late (its copy
// under late/ holds the same bytes as its day key).
func TestLayout3Chain(t *testing.T) {
	logDir := layout3Log(t)
	f := newFixture(t, logDir)
	ctx := context.Background()
	l := ledger.Ledger{Store: f.store}
	old := f.seal(t, mustDay("2026-11-22"), archiver.Options{Layout: archiver.Layout2, Now: layout3Clock})
	mustSeal3(t, f, f.store, "2026-11-23")
	mustSeal3(t, f, f.store, "2026-11-24")
	sl, err := archiver.ReadStoreLayout(ctx, f.store)
	if err != nil || sl == nil || sl.Since != "2026-11-24" {
		t.Fatalf("layout marker %+v, %v; want layout 3 since the day of the first layout-3 seal's clock (2026-11-23 sealed on the 24th)", sl, err)
	}
	for _, o := range old.Orgs {
		m, err := l.Latest(ctx, o.Org, mustDay("2026-11-23"))
		if err != nil || m == nil || m.Version != archiver.ManifestVersion3 || m.Seq != o.Seq+1 ||
			m.PreviousKey != archiver.ChainKey(o.Org, o.Seq) || m.Key != archiver.DayKey3(o.Org, mustDay("2026-11-23"), 1) || m.Late {
			t.Fatalf("%s: first layout 3 manifest %+v, %v; want seq %d after chain key %s", o.Name, m, err, o.Seq+1, archiver.ChainKey(o.Org, o.Seq))
		}
		if m.ChatIndex == nil || m.ChatIndex.Inline == nil || len(m.ChatIndex.Inline.Chats) == 0 {
			t.Fatalf("%s: chat index %+v; want it inline", o.Name, m.ChatIndex)
		}
		x, err := l.ReadChatIndex(ctx, m)
		if err != nil || len(x.Members) == 0 {
			t.Fatalf("%s: ReadChatIndex = %+v, %v", o.Name, x, err)
		}
		prev := m
		m, rc, err := l.OpenExport(ctx, o.Org, mustDay("2026-11-24"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !m.Data.Keyless() || !bytes.Equal(b, archiver.EmptyExport()) || m.PreviousKey != prev.Key || m.Previous != hexOf(prev.Bytes) {
			t.Fatalf("%s: empty day %+v; want no object, the empty gzip, and the link to %s", o.Name, m.Data, prev.Key)
		}
		if x, err := l.ReadChatIndex(ctx, m); err != nil || len(x.Chats) != 0 || len(x.Members) == 0 {
			t.Fatalf("%s: empty day's chat index %+v, %v", o.Name, x, err)
		}
	}
	// A revision of 2026-11-23 (before the tip, 2026-11-24): late.
	addRecord(t, logDir, "2026-11-23", "m-late-1")
	res := mustSeal3(t, f, f.store, "2026-11-23")
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeCommitted || o.Revision != 2 {
			continue
		}
		head, err := l.Head(ctx, o.Org)
		if err != nil || head == nil || !head.Late || head.Seq != o.Seq || head.Key != archiver.LateKey(o.Org, o.Seq) {
			t.Fatalf("%s: head %+v, %v; want the late revision, read from its copy", o.Name, head, err)
		}
		day, err := archiver.ReadAll(ctx, f.store, archiver.DayKey3(o.Org, mustDay("2026-11-23"), 2))
		if err != nil || !bytes.Equal(day, head.Bytes) {
			t.Fatalf("%s: day key of the late revision: %v; want the late copy's bytes", o.Name, err)
		}
		if m, err := l.Latest(ctx, o.Org, mustDay("2026-11-23")); err != nil || m.Revision != 2 {
			t.Fatalf("%s: Latest = %+v, %v", o.Name, m, err)
		}
	}
	// The next day follows the late head: seq after it, previousKey its day key, not late.
	res = mustSeal3(t, f, f.store, "2026-11-25")
	for _, o := range res.Orgs {
		m, err := l.Latest(ctx, o.Org, mustDay("2026-11-25"))
		if err != nil || m.Late || m.Seq != o.Seq {
			t.Fatalf("%s: %+v, %v", o.Name, m, err)
		}
		prev, err := l.ReadManifest(ctx, m.PreviousKey)
		if err != nil || prev.Seq != m.Seq-1 || hexOf(prev.Bytes) != m.Previous || archiver.KeyLayout(m.PreviousKey) != archiver.Layout3 {
			t.Fatalf("%s: previousKey %s: %+v, %v", o.Name, m.PreviousKey, prev, err)
		}
	}
	// A layout-2 seal refuses the store now that it is in layout 3.
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{Layout: archiver.Layout2, Now: layout3Clock, TempDir: t.TempDir()}}
	if _, err := s.Seal(ctx, mustDay("2026-11-25"), f.directory, ""); err == nil || !strings.Contains(err.Error(), "store.layout") {
		t.Fatalf("a layout 2 seal of a layout 3 store: %v; want it refused", err)
	}
	reliability.Record(t, "operations", "an old chain continued in layout 3, with a late revision", reliability.Kept,
		"the first layout-3 manifest follows the old chain's head (previousKey names its chain key); an empty day names no object and serves the empty gzip; a revision of a day before the tip is late, its copy under late/ the same bytes as its day key, and the next day follows it")
	reliability.Record(t, "operations", "a layout 2 seal of a store in layout 3", reliability.CleanFailure,
		"refused before anything is written: the days it would write from the marker's since on would not be read")
}

func hexOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// dyingStore is a store that "crashes" after a Create whose key dies says so: from then
// on every request fails, as if the process had been killed there (nothing after it is
// written).
type dyingStore struct {
	archiver.Store
	dies func(key string) bool
	dead atomic.Bool
}

var errKilled = errors.New("killed")

func (d *dyingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if d.dead.Load() {
		return errKilled
	}
	err := d.Store.Create(ctx, key, body, size, sum, opt)
	if err == nil && d.dies(key) {
		d.dead.Store(true)
	}
	return err
}

func (d *dyingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if d.dead.Load() {
		return nil, errKilled
	}
	return d.Store.Open(ctx, key)
}

func (d *dyingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if d.dead.Load() {
		return errKilled
	}
	return d.Store.List(ctx, prefix, fn)
}

// TestLayout3CrashPoints kills a layout-3 seal (in process: its store fails every request
// from the point on) after each write of the commit order, then seals again: the rerun
// commits exactly what an uninterrupted seal would have, restores a late revision's day
// key from its copy, and never commits a revision twice.
func TestLayout3CrashPoints(t *testing.T) {
	for _, tt := range []struct {
		name string
		late bool   // the killed seal is a late revision
		at   string // the kind of key after whose write it dies
	}{
		{"after the export, before the manifest", false, ".events-"},
		{"after the members object, before the manifest", false, "/members/"},
		{"after the manifest (commit.day), before the accounting", false, ".r0001.json"},
		{"after the late copy (commit.late), before its day key", true, "/late/"},
		{"after a late revision's day key", true, ".r0002.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logDir := layout3Log(t)
			f := newFixture(t, logDir)
			ctx := context.Background()
			day := "2026-11-22"
			if tt.late {
				mustSeal3(t, f, f.store, "2026-11-22")
				mustSeal3(t, f, f.store, "2026-11-23")
				addRecord(t, logDir, "2026-11-22", "m-late-2")
			}
			died := 0
			d := &dyingStore{Store: f.store, dies: func(key string) bool {
				if strings.Contains(key, tt.at) && strings.HasPrefix(key, "orgs/"+acmeOrg+"/") {
					died++
					return true
				}
				return false
			}}
			s := &archiver.Sealer{Source: f.src, Store: d, Chain: ledger.Ledger{Store: d}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir(), Workers: 1}}
			res, err := s.Seal(ctx, mustDay(day), f.directory, "")
			if died == 0 {
				t.Fatalf("the seal never wrote a key with %q: %+v, %v", tt.at, res, err)
			}
			if tt.at == "/late/" {
				if _, err := archiver.ReadAll(ctx, f.store, archiver.DayKey3(acmeOrg, mustDay(day), 2)); !errors.Is(err, archiver.ErrNotFound) {
					t.Fatalf("the late revision's day key exists after a kill before it: %v", err)
				}
			}
			// The rerun, a new process: a new store value (no remembered head).
			again := mustSeal3(t, f, &storeHandle{f.store}, day)
			l := ledger.Ledger{Store: &storeHandle{f.store}}
			for _, o := range again.Orgs {
				if o.Org != acmeOrg {
					continue // the one whose seal was killed, and whose day is revised
				}
				m, err := l.Latest(ctx, o.Org, mustDay(day))
				if err != nil || m == nil {
					t.Fatalf("%s: %+v, %v", o.Name, m, err)
				}
				want := 1
				if tt.late {
					want = 2
				}
				if m.Revision != want {
					t.Errorf("%s: latest revision %d after the rerun, want %d", o.Name, m.Revision, want)
				}
				head, err := l.Head(ctx, o.Org)
				if err != nil {
					t.Fatal(err)
				}
				if head.Seq != m.Seq {
					t.Errorf("%s: head seq %d, latest of the day seq %d", o.Name, head.Seq, m.Seq)
				}
				if tt.late {
					b, err := archiver.ReadAll(ctx, f.store, archiver.DayKey3(o.Org, mustDay(day), 2))
					if err != nil || !bytes.Equal(b, head.Bytes) {
						t.Errorf("%s: the late revision's day key after the rerun: %v", o.Name, err)
					}
					// No second revision 2 or 3: one late copy per committed late revision.
					if n := len(listKeys(t, f.store, archiver.LatePrefix(o.Org))); n != 1 {
						t.Errorf("%s: %d late copies, want 1", o.Name, n)
					}
				}
			}
			reliability.Record(t, "crash", "layout 3: killed "+tt.name, reliability.Recovered,
				"the rerun commits what an uninterrupted seal would: one revision, the chain unbroken; a late copy without its day key is the head, and the rerun restores the day key from it (same bytes)")
		})
	}
}

// storeHandle is another value of the same store: a new process's (nothing remembered).
type storeHandle struct{ archiver.Store }

// gatedStore blocks the Create of a key gate says until release is closed.
type gatedStore struct {
	archiver.Store
	gate    func(key string) bool
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if g.gate(key) {
		g.once.Do(func() { close(g.reached) })
		<-g.release
	}
	return g.Store.Create(ctx, key, body, size, sum, opt)
}

// TestLayout3ForkDetected: two sealers of different days of one organization that read the
// same head (no lease between them) both commit a manifest with the same seq: a fork,
// which create-only cannot prevent in layout 3. The second to commit sees the first in
// its post-commit check and fails its day loudly.
func TestLayout3ForkDetected(t *testing.T) {
	logDir := layout3Log(t)
	f := newFixture(t, logDir)
	ctx := context.Background()
	mustSeal3(t, f, f.store, "2026-11-22")
	// B seals 2026-11-24 and is held just before its manifest; A seals 2026-11-23 meanwhile.
	g := &gatedStore{Store: &storeHandle{f.store}, reached: make(chan struct{}), release: make(chan struct{}),
		gate: func(key string) bool {
			return strings.HasPrefix(key, archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24"))+"r")
		}}
	var resB *archiver.DayResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := &archiver.Sealer{Source: f.src, Store: g, Chain: ledger.Ledger{Store: g}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
		resB, _ = s.Seal(ctx, mustDay("2026-11-24"), f.directory, acmeOrg)
	}()
	select {
	case <-g.reached:
	case <-done:
		t.Fatalf("the second writer ended before its commit: %+v", resB)
	}
	resA := mustSeal3(t, f, &storeHandle{f.store}, "2026-11-23")
	close(g.release)
	<-done
	var a, b archiver.OrgResult
	for _, o := range resA.Orgs {
		if o.Org == acmeOrg {
			a = o
		}
	}
	for _, o := range resB.Orgs {
		if o.Org == acmeOrg {
			b = o
		}
	}
	if a.Err != nil || a.Outcome != archiver.OutcomeCommitted {
		t.Fatalf("first writer: %+v", a)
	}
	if !errors.Is(b.Err, archiver.ErrForked) || !strings.Contains(b.Err.Error(), "forked the chain at seq") {
		t.Fatalf("second writer: %+v; want its day failed with the fork", b)
	}
	failed, msg, err := ledger.Ledger{Store: f.store}.Failed(ctx, acmeOrg, mustDay("2026-11-24"))
	if err != nil || !failed || !strings.Contains(msg, "forked") {
		t.Errorf("the fork is not recorded as the day's failure: %v %q %v", failed, msg, err)
	}
	reliability.Record(t, "operations", "layout 3: two sealers of different days of one organization without the lease", reliability.CleanFailure,
		"the second to commit finds the first's manifest with its seq in its post-commit check and fails its day loudly (a concurrent commit forked the chain); the seal lease keeps it from happening")
}

// TestLayout3FreshStoreSince: a store whose first seal is in layout 3 has no layout-2 day
// to keep readable, so its marker says layout 3 from the first day on, whatever day the
// first seal is of; a backlog of older days is then looked up in d/ alone (one listing,
// where a since of today made every older day cost a listing of the old layout too).
func TestLayout3FreshStoreSince(t *testing.T) {
	logDir := layout3Log(t)
	f := newFixture(t, logDir)
	ctx := context.Background()
	mustSeal3(t, f, f.store, "2026-11-23")
	sl, err := archiver.ReadStoreLayout(ctx, f.store)
	if err != nil || sl == nil || sl.SinceDay() != archiver.FreshStoreSince {
		t.Fatalf("layout marker %+v, %v; want layout 3 since %s", sl, err, archiver.FreshStoreSince)
	}
	c := storetest.NewCounting(f.store)
	l := ledger.Ledger{Store: c}
	var orgs []string
	if err := l.Orgs(ctx, func(o string) error { orgs = append(orgs, o); return nil }); err != nil || len(orgs) == 0 {
		t.Fatalf("orgs %v, %v", orgs, err)
	}
	c.Reset()
	days := 0
	if err := l.ListDays(ctx, orgs[0], mustDay("2026-11-01"), func(ledger.DayKeys) error { days++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := c.Counts().Requests(); days != 1 || n != 1 {
		t.Fatalf("ListDays of a fresh layout-3 store: %d days in %d requests; want 1 day in 1 listing", days, n)
	}
	reliability.Record(t, "operations", "first seal of a new store in layout 3, of a day before today", reliability.Kept,
		"layout.json says layout 3 from the first day on, so older days (a backlog) are listed in one layout, not in both")
}

// TestLayout3LateForkDetected: a late revision of an older day and a new day of one
// organization, sealed at once without the lease, both take the seq after the head they
// read. The late writer commits (its copy under late/, then its day key before the tip)
// and checks first; the other, held before its manifest, commits after and must find the
// late copy in its post-commit check, which lists the organization's keys past the tip in
// one listing (d/ then late/). In an upgraded store the organization's layout-2 keys
// (days/, between d/ and late/) stop that listing, and late/ is listed on its own.
func TestLayout3LateForkDetected(t *testing.T) {
	for _, upgraded := range []bool{false, true} {
		name := "layout 3 from the first day"
		if upgraded {
			name = "upgraded store"
		}
		t.Run(name, func(t *testing.T) {
			logDir := layout3Log(t)
			f := newFixture(t, logDir)
			ctx := context.Background()
			if upgraded {
				f.seal(t, mustDay("2026-11-22"), archiver.Options{Layout: archiver.Layout2, Now: layout3Clock})
			} else {
				mustSeal3(t, f, f.store, "2026-11-22")
			}
			mustSeal3(t, f, f.store, "2026-11-23")
			g := &gatedStore{Store: &storeHandle{f.store}, reached: make(chan struct{}), release: make(chan struct{}),
				gate: func(key string) bool {
					return strings.HasPrefix(key, archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24"))+"r")
				}}
			var resB *archiver.DayResult
			done := make(chan struct{})
			go func() {
				defer close(done)
				s := &archiver.Sealer{Source: f.src, Store: g, Chain: ledger.Ledger{Store: g}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
				resB, _ = s.Seal(ctx, mustDay("2026-11-24"), f.directory, acmeOrg)
			}()
			select {
			case <-g.reached:
			case <-done:
				t.Fatalf("the new day's writer ended before its commit: %+v", resB)
			}
			addRecord(t, logDir, "2026-11-22", "m-late-fork")
			resA := mustSeal3(t, f, &storeHandle{f.store}, "2026-11-22")
			close(g.release)
			<-done
			a, b := orgResult(resA, acmeOrg), orgResult(resB, acmeOrg)
			if a.Err != nil || a.Outcome != archiver.OutcomeCommitted || a.Revision != 2 {
				t.Fatalf("late writer: %+v", a)
			}
			if m, err := (ledger.Ledger{Store: f.store}).ReadManifest(ctx, archiver.LateKey(acmeOrg, a.Seq)); err != nil || !m.Late {
				t.Fatalf("the revision of 2026-11-22 is not late: %+v, %v", m, err)
			}
			if !errors.Is(b.Err, archiver.ErrForked) || b.Seq != 0 && b.Seq != a.Seq {
				t.Fatalf("new day's writer: %+v; want its day failed with the fork at seq %d", b, a.Seq)
			}
		})
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "layout 3: a late revision and a new day of one organization sealed at once without the lease", reliability.CleanFailure,
		"the new day's writer, committing second, finds the late copy with its seq in its post-commit check (one listing of the organization's keys past the tip; late/ on its own when layout-2 keys stop it) and fails its day loudly")
}

func orgResult(res *archiver.DayResult, org string) archiver.OrgResult {
	if res != nil {
		for _, o := range res.Orgs {
			if o.Org == org {
				return o
			}
		}
	}
	return archiver.OrgResult{}
}
