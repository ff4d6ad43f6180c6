package archiver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/klauspost/compress/gzip"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

const (
	sampleLog = "../testdata/eventlog"
	acme      = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	globex    = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

var sampleDay = mustDay("2026-11-22")

func mustDay(s string) archiver.Day {
	d, err := archiver.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// fixedClock makes manifests reproducible.
func fixedClock() time.Time { return time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC) }

type fixture struct {
	src       *eventlog.Dir
	store     *fsstore.Store
	storeDir  string
	directory []byte
}

func newFixture(t testing.TB, logDir string) *fixture {
	t.Helper()
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	store, err := fsstore.New(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &fixture{src: src, store: store, storeDir: storeDir, directory: dir}
}

func (f *fixture) seal(t *testing.T, day archiver.Day, opt archiver.Options) *archiver.DayResult {
	t.Helper()
	if opt.Now == nil {
		opt.Now = fixedClock
	}
	if opt.Generator == "" {
		opt.Generator = "chatvault test"
	}
	if opt.TempDir == "" {
		opt.TempDir = t.TempDir()
	}
	whole := wholeResults(&opt)
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: opt}
	res, err := s.Seal(context.Background(), day, f.directory, "")
	if err != nil {
		t.Fatalf("seal %s: %v", day, err)
	}
	whole(res)
	for _, o := range res.Failed() {
		t.Fatalf("org %s failed: %v", o.Org, o.Err)
	}
	return res
}

// wholeResults sets opt.OrgDone, unless set, to collect the organizations' whole results,
// and returns what puts them in a DayResult in place of their summaries: the tests read
// the keys and hashes a run's summary does not keep.
func wholeResults(opt *archiver.Options) func(*archiver.DayResult) {
	if opt.OrgDone != nil {
		return func(*archiver.DayResult) {}
	}
	var all []archiver.OrgResult
	opt.OrgDone = func(o archiver.OrgResult) { all = append(all, o) }
	return func(res *archiver.DayResult) {
		if res != nil && len(all) == len(res.Orgs) {
			res.Orgs = all
		}
	}
}

// export returns an organization's latest JSONL for day.
func (f *fixture) export(t *testing.T, org string, day archiver.Day) ([]byte, *archiver.StoredManifest) {
	t.Helper()
	m, rc, err := ledger.Ledger{Store: f.store}.OpenExport(context.Background(), org, day)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return gunzip(t, rc), m
}

func gunzip(t *testing.T, r io.Reader) []byte {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./archiver -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestSealSample seals the hand-written sample day and compares every export, manifest and
// the quarantine with golden files. The sample exercises each inclusion rule, variant and
// bad-input case; testdata/README.md lists them.
func TestSealSample(t *testing.T) {
	f := newFixture(t, sampleLog)
	res := f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})

	want := archiver.InputCounts{Read: 29, Exported: 13, Duplicates: 2, Quarantined: 9, Excluded: map[string]int64{
		"content_type:wave": 1, "content_type:roomInvitation": 1, archiver.ReasonNotEntitled: 3,
	}}
	if got := res.Input; got.Read != want.Read || got.Exported != want.Exported || got.Duplicates != want.Duplicates ||
		got.Quarantined != want.Quarantined || !mapsEqual(got.Excluded, want.Excluded) {
		t.Errorf("input counts = %+v, want %+v", got, want)
	}
	wantWhy := map[string]int64{"invalid_json": 2, "missing_field": 2, "not_integer": 1, "unknown_variant": 3, "wrong_type": 1}
	if !mapsEqual(res.QuarantineByWhy, wantWhy) {
		t.Errorf("quarantined by reason = %v, want %v", res.QuarantineByWhy, wantWhy)
	}
	var orgs []string
	for _, o := range res.Orgs {
		orgs = append(orgs, o.Name)
		if o.Outcome != archiver.OutcomeCommitted || o.Revision != 1 || o.Seq != 1 {
			t.Errorf("%s: outcome %s rev %d seq %d, want committed rev 1 seq 1", o.Name, o.Outcome, o.Revision, o.Seq)
		}
	}
	// Initech has archival off; Umbrella's archival starts after the day.
	if want := []string{"Acme", "Globex"}; !slices.Equal(orgs, want) {
		t.Errorf("organizations = %v, want %v", orgs, want)
	}
	for _, org := range []struct{ id, name string }{{acme, "acme"}, {globex, "globex"}} {
		data, m := f.export(t, org.id, sampleDay)
		golden(t, org.name+".jsonl", data)
		golden(t, org.name+".manifest.json", m.Bytes)
	}
	rc, err := f.store.Open(context.Background(), res.Quarantine.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	golden(t, "quarantine.jsonl", gunzip(t, rc))
	// Acme's own quarantine: the lines of its chat that still name it (the sample's bad
	// JSON and bad UTF-8 lines name nobody), none for Globex.
	for _, o := range res.Orgs {
		if o.Org == globex && o.Quarantined != nil {
			t.Errorf("Globex has a quarantine: %+v", o.Quarantined)
		}
		if o.Org == acme {
			_, rc, err := ledger.Ledger{Store: f.store}.OpenQuarantine(context.Background(), acme, sampleDay)
			if err != nil || rc == nil {
				t.Fatalf("Acme's quarantine: %v", err)
			}
			defer rc.Close()
			golden(t, "acme.quarantine.jsonl", gunzip(t, rc))
		}
	}
	// The day-level numbers are the operators', in the accounting object, not in any
	// organization's manifest.
	if res.Accounting == "" {
		t.Fatal("no accounting object")
	}
	b, err := os.ReadFile(filepath.Join(f.storeDir, filepath.FromSlash(res.Accounting)))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "accounting.json", b)
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// storeFiles returns every object in the store with its SHA-256.
func storeFiles(t *testing.T, dir string) map[string][sha256.Size]byte {
	t.Helper()
	out := map[string][sha256.Size]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRerunIsNoOp(t *testing.T) {
	f := newFixture(t, sampleLog)
	f.seal(t, sampleDay, archiver.Options{})
	before := storeFiles(t, f.storeDir)
	res := f.seal(t, sampleDay, archiver.Options{Workers: 1, SortMemory: 64 << 10})
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeUnchanged || o.Revision != 1 {
			t.Errorf("%s: rerun outcome %s rev %d, want unchanged rev 1", o.Name, o.Outcome, o.Revision)
		}
	}
	after := storeFiles(t, f.storeDir)
	if len(after) != len(before) {
		t.Fatalf("rerun changed the store: %d objects before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("rerun changed %s", k)
		}
	}
}

// TestNewRevision changes the directory so that Acme is entitled to one more chat: the
// rerun commits revision 2 beside revision 1, chained to it, and leaves Globex unchanged.
func TestNewRevision(t *testing.T) {
	f := newFixture(t, sampleLog)
	f.seal(t, sampleDay, archiver.Options{})
	first, m1 := f.export(t, acme, sampleDay)

	var dir map[string]any
	if err := json.Unmarshal(f.directory, &dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range dir["chats"].([]any) {
		chat := c.(map[string]any)
		if chat["id"] == "chat-initech-guest" {
			chat["members"] = append(chat["members"].([]any), "u-grace")
		}
	}
	f.directory, _ = json.Marshal(dir)
	res := f.seal(t, sampleDay, archiver.Options{})
	outcomes := map[string]archiver.OrgResult{}
	for _, o := range res.Orgs {
		outcomes[o.Name] = o
	}
	if o := outcomes["Acme"]; o.Outcome != archiver.OutcomeCommitted || o.Revision != 2 || o.Seq != 2 {
		t.Fatalf("Acme: %s rev %d seq %d, want committed rev 2 seq 2", o.Outcome, o.Revision, o.Seq)
	}
	if o := outcomes["Globex"]; o.Outcome != archiver.OutcomeUnchanged {
		t.Errorf("Globex: %s, want unchanged", o.Outcome)
	}
	second, m2 := f.export(t, acme, sampleDay)
	if !bytes.Contains(second, []byte(`"messageId":"m-007"`)) || bytes.Contains(first, []byte(`"messageId":"m-007"`)) {
		t.Errorf("revision 2 should add m-007 and revision 1 should not have it")
	}
	if m2.Previous != hex.EncodeToString(m1.SHA256[:]) || m2.Revision != 2 {
		t.Errorf("revision 2: previous %s rev %d, want previous %s", m2.Previous, m2.Revision, hex.EncodeToString(m1.SHA256[:]))
	}
	// Revision 1 is still there, byte for byte.
	rc, err := f.store.Open(context.Background(), m1.Data.Key)
	if err != nil {
		t.Fatalf("revision 1's export is gone: %v", err)
	}
	rc.Close()
	rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

// TestVerifyDetectsEveryBitFlip flips one bit in each stored object in turn: verify must
// pass on the untouched store and fail for every flip.
func TestVerifyDetectsEveryBitFlip(t *testing.T) {
	f := newFixture(t, sampleLog)
	f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	lg := ledger.Ledger{Store: f.store}
	verifyNow := func() *verify.Report {
		rep, err := verify.Run(context.Background(), lg, verify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verifyNow(); !rep.OK() || rep.Manifests != 2 {
		t.Fatalf("untouched store: problems %v, %d manifests", rep.Problems, rep.Manifests)
	}
	files := storeFiles(t, f.storeDir)
	if len(files) != 11 {
		t.Fatalf("store holds %d objects, want 11 (2 × export, chat index, manifest, day index; Acme's quarantine, the day's quarantine, 1 accounting)", len(files))
	}
	for key := range files {
		for _, pos := range []string{"first", "middle", "last"} {
			t.Run(key+"/"+pos, func(t *testing.T) {
				path := filepath.Join(f.storeDir, filepath.FromSlash(key))
				orig, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				i := map[string]int{"first": 0, "middle": len(orig) / 2, "last": len(orig) - 1}[pos]
				flipped := slices.Clone(orig)
				flipped[i] ^= 0x04
				writeFile(t, path, flipped)
				defer writeFile(t, path, orig)
				if rep := verifyNow(); rep.OK() {
					t.Errorf("verify passed with byte %d of %s flipped", i, key)
				}
			})
		}
	}
	if rep := verifyNow(); !rep.OK() {
		t.Fatalf("restored store: %v", rep.Problems)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestSignedManifests(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, sampleLog)
	f.seal(t, sampleDay, archiver.Options{SigningKey: priv})
	lg := ledger.Ledger{Store: f.store}
	rep, err := verify.Run(context.Background(), lg, verify.Options{TrustedKey: pub})
	if err != nil || !rep.OK() {
		t.Fatalf("verify with the signing key: %v %v", err, rep.Problems)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	rep, err = verify.Run(context.Background(), lg, verify.Options{TrustedKey: other})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "untrusted key") {
		t.Errorf("verify with another key: problems %v, want untrusted key", rep.Problems)
	}
}

func TestSealRefusesUndeliveredDays(t *testing.T) {
	logDir := t.TempDir()
	if err := os.CopyFS(logDir, os.DirFS(sampleLog)); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(logDir, "2026-11-23")
	if err := os.MkdirAll(open, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	tests := []struct {
		day  string
		now  time.Time
		want error
	}{
		{"2026-11-21", fixedClock(), archiver.ErrNoPartition},
		{"2026-11-23", time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC), archiver.ErrNotClosed},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{Now: func() time.Time { return tt.now }, Grace: time.Hour}}
			_, err := s.Seal(context.Background(), mustDay(tt.day), f.directory, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Seal = %v, want %v", err, tt.want)
			}
		})
	}
	// Once the grace period has passed, an open partition counts as closed and an empty
	// day is sealed: every archiving organization gets an empty export and a manifest.
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
		Now: func() time.Time { return time.Date(2026, 11, 24, 1, 0, 1, 0, time.UTC) }, Grace: time.Hour, TempDir: t.TempDir()}}
	res, err := s.Seal(context.Background(), mustDay("2026-11-23"), f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Orgs) != 2 {
		t.Fatalf("%d organizations sealed, want 2", len(res.Orgs))
	}
	for _, o := range res.Orgs {
		data, m := f.export(t, o.Org, mustDay("2026-11-23"))
		if len(data) != 0 || m.Data.Records != 0 || o.Outcome != archiver.OutcomeCommitted {
			t.Errorf("%s: %d bytes, %d records, %s; want an empty committed export", o.Name, len(data), m.Data.Records, o.Outcome)
		}
	}
	rows, err := ledger.Ledger{Store: f.store}.Status(context.Background(), acme, mustDay("2026-11-22"), mustDay("2026-11-24"))
	if err != nil {
		t.Fatal(err)
	}
	var states []ledger.DayState
	for _, r := range rows {
		states = append(states, r.State)
	}
	if want := []ledger.DayState{ledger.StatePending, ledger.StateEmpty, ledger.StatePending}; !slices.Equal(states, want) {
		t.Errorf("status = %v, want %v", states, want)
	}
}

// failingStore fails every Create of an export under one prefix.
type failingStore struct {
	archiver.Store
	prefix string
}

func (s failingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, s.prefix) && strings.Contains(key, "/events-") {
		return errors.New("injected: disk full")
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestOneOrganizationFailing shows that one organization's failure commits nothing for it,
// does not stop the others, and leaves a failed attempt that status reports.
func TestOneOrganizationFailing(t *testing.T) {
	f := newFixture(t, sampleLog)
	rs := &recordingStore{Store: failingStore{f.store, "orgs/" + globex + "/"}, opts: map[string]archiver.CreateOptions{}}
	s := &archiver.Sealer{Source: f.src, Store: rs, Chain: ledger.Ledger{Store: rs}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	failed := res.Failed()
	if len(failed) != 1 || failed[0].Org != globex || !strings.Contains(failed[0].Err.Error(), "disk full") {
		t.Fatalf("failed organizations = %+v, want Globex with the injected error", failed)
	}
	// The failed attempt is part of the audit trail: locked as long as the day would be.
	records := 0
	for key, opt := range rs.opts {
		if strings.Contains(key, "/failed-") {
			records++
			if want := sampleDay.End().AddDate(0, 0, 3650); !opt.RetainUntil.Equal(want) {
				t.Errorf("%s retained until %v, want %v", key, opt.RetainUntil, want)
			}
		}
	}
	if records != 1 {
		t.Errorf("%d failure records, want 1", records)
	}
	lg := ledger.Ledger{Store: f.store}
	rows, err := lg.Status(context.Background(), globex, sampleDay, sampleDay)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].State != ledger.StateFailed || !strings.Contains(rows[0].Error, "disk full") {
		t.Errorf("Globex status = %s %q, want failed with the cause", rows[0].State, rows[0].Error)
	}
	if rows, _ := lg.Status(context.Background(), acme, sampleDay, sampleDay); rows[0].State != ledger.StateSealed {
		t.Errorf("Acme status = %s, want sealed", rows[0].State)
	}
	// The next run seals Globex; Acme is unchanged.
	res = f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	for _, o := range res.Orgs {
		want := map[string]string{"Acme": archiver.OutcomeUnchanged, "Globex": archiver.OutcomeCommitted}[o.Name]
		if o.Outcome != want {
			t.Errorf("%s: %s, want %s", o.Name, o.Outcome, want)
		}
	}
	rep, err := verify.Run(context.Background(), lg, verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func newStore(dir string) (*fsstore.Store, error) { return fsstore.New(dir) }

// generated writes a synthetic day once per test binary run and returns its folder.
func generated(t testing.TB, events, bad int) string {
	t.Helper()
	dir := t.TempDir()
	_, err := synth.Generate(context.Background(), dir, synth.Options{Day: sampleDay, Events: events, Orgs: 12, Seed: 42, Bad: bad, Files: 3})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// exports returns every organization's latest export of the day, by organization.
func (f *fixture) exports(t *testing.T, res *archiver.DayResult) map[string][]byte {
	out := map[string][]byte{}
	for _, o := range res.Orgs {
		data, _ := f.export(t, o.Org, res.Day)
		out[o.Org] = data
	}
	return out
}

// TestDeterminism seals one generated day several ways: default parallelism and budget,
// one worker with GOMAXPROCS=1, a tiny sort budget that forces many spills and a
// multi-level merge, and more workers than the merge could open sorters for. Every export
// must be byte-identical.
func TestDeterminism(t *testing.T) {
	logDir := generated(t, 30_000, 25)
	var base map[string][]byte
	for _, tc := range []struct {
		name       string
		workers    int
		maxprocs   int
		sortMemory int64
		minRuns    int
	}{
		{"default", 0, 0, 0, 0},
		{"GOMAXPROCS=1", 1, 1, 0, 0},
		{"tiny budget", 3, 0, 64 << 10, 100},
		// A host of 64 CPUs with the default workers, and a configuration asking for 100:
		// one sorter per worker, each spilling, were more sources than a merge opens, and
		// every day that spilled failed after it was read.
		{"GOMAXPROCS=64, spilling", 0, 64, 4 << 20, 64},
		{"100 workers, spilling", 100, 0, 4 << 20, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.maxprocs > 0 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.maxprocs))
			}
			f := newFixture(t, logDir)
			res := f.seal(t, sampleDay, archiver.Options{Workers: tc.workers, SortMemory: tc.sortMemory})
			if res.Runs < tc.minRuns {
				t.Fatalf("%d sort runs spilled, want at least %d", res.Runs, tc.minRuns)
			}
			got := f.exports(t, res)
			if len(got) < 5 {
				t.Fatalf("only %d organizations exported", len(got))
			}
			if base == nil {
				base = got
				return
			}
			if len(got) != len(base) {
				t.Fatalf("%d organizations, want %d", len(got), len(base))
			}
			for org, data := range base {
				if !bytes.Equal(got[org], data) {
					t.Errorf("%s: export differs from the default run's", org)
				}
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "a day that spills, sealed on a host of 64 CPUs (export.workers 0) or with 100 workers asked of the library", reliability.Kept,
			"workers capped at 32 (the merge opens each worker's sort at once, at most 64 sources); the exports byte-identical to one worker's; every such day failed after it was read, with more sorters than a merge can open")
	}
}

// TestAccounting checks, on a generated day with injected bad records, that every line
// read is exported, excluded, a duplicate or quarantined, and that the parts agree with
// what the exports and the quarantine object hold.
func TestAccounting(t *testing.T) {
	const events, bad = 20_000, 40
	logDir := generated(t, events, bad)
	f := newFixture(t, logDir)
	res := f.seal(t, sampleDay, archiver.Options{SortMemory: 256 << 10})
	in := res.Input
	if in.Read != events {
		t.Fatalf("read %d lines, generated %d", in.Read, events)
	}
	if !in.Balanced() {
		t.Fatalf("counts do not balance: %+v", in)
	}
	if in.Quarantined != bad {
		t.Errorf("quarantined %d, injected %d bad lines", in.Quarantined, bad)
	}
	if in.Excluded["content_type:wave"] == 0 || in.Excluded["content_type:roomInvitation"] == 0 ||
		in.Excluded[archiver.ReasonNotEntitled] == 0 || in.Duplicates == 0 {
		t.Errorf("the generated day should exclude waves, invitations and unentitled events and collapse duplicates: %+v", in)
	}
	// The quarantine object holds exactly the quarantined lines.
	rc, err := f.store.Open(context.Background(), res.Quarantine.Key)
	if err != nil {
		t.Fatal(err)
	}
	q := gunzip(t, rc)
	rc.Close()
	if n := bytes.Count(q, []byte("\n")); int64(n) != in.Quarantined {
		t.Errorf("quarantine object holds %d records, counts say %d", n, in.Quarantined)
	}
	// Distinct exported records across organizations equal the day's exported count, and
	// each organization's export holds its manifest's count.
	distinct := map[string]bool{}
	for org, data := range f.exports(t, res) {
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(data) == 0 {
			lines = nil
		}
		for _, o := range res.Orgs {
			if o.Org == org && int64(len(lines)) != o.Counts.Exported {
				t.Errorf("%s: export holds %d records, counts say %d", org, len(lines), o.Counts.Exported)
			}
		}
		for _, l := range lines {
			distinct[string(l)] = true
		}
	}
	if int64(len(distinct)) != in.Exported {
		t.Errorf("%d distinct records exported, counts say %d", len(distinct), in.Exported)
	}
}

// commitFailingStore fails the creation of chain entries: a crash between an export and
// its manifest.
type commitFailingStore struct{ archiver.Store }

func (s commitFailingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.Contains(key, "/manifests/") {
		return errors.New("injected: crash before the commit")
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestInterruptedCommits covers the two places a run can stop between objects: after an
// export but before its manifest, and after the chain entry but before the day index.
// Neither leaves a half-committed day, and the next run completes the commit.
func TestInterruptedCommits(t *testing.T) {
	f := newFixture(t, sampleLog)
	lg := ledger.Ledger{Store: f.store}
	s := &archiver.Sealer{Source: f.src, Store: commitFailingStore{f.store}, Chain: ledger.Ledger{Store: commitFailingStore{f.store}}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed()) != 2 {
		t.Fatalf("%d organizations failed, want both", len(res.Failed()))
	}
	if m, err := lg.Latest(context.Background(), acme, sampleDay); err != nil || m != nil {
		t.Fatalf("an export without its manifest must not count as sealed: %v %v", m, err)
	}
	rep, err := verify.Run(context.Background(), lg, verify.Options{})
	if err != nil || !rep.OK() || len(rep.Warnings) != 5 {
		t.Fatalf("verify after the interrupted run: problems %v, warnings %v; want none, two orphaned exports and chat indexes and Acme's orphaned quarantine", rep.Problems, rep.Warnings)
	}

	res = f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeCommitted || o.Revision != 1 {
			t.Errorf("%s: %s rev %d, want committed rev 1", o.Name, o.Outcome, o.Revision)
		}
	}

	// Now lose Acme's day index, as if the run had stopped right after the chain entry.
	idx := filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), "r0001.json")
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	res = f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeUnchanged || o.Revision != 1 {
			t.Errorf("%s: %s rev %d, want unchanged rev 1 (the index restored, no new revision)", o.Name, o.Outcome, o.Revision)
		}
	}
	if _, err := os.Stat(idx); err != nil {
		t.Errorf("day index not restored: %v", err)
	}
	rep, err = verify.Run(context.Background(), lg, verify.Options{})
	if err != nil || !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("verify: problems %v, warnings %v", rep.Problems, rep.Warnings)
	}
}

// recordingStore remembers the options of every Create.
type recordingStore struct {
	archiver.Store
	mu   sync.Mutex
	opts map[string]archiver.CreateOptions
}

func (s *recordingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	s.mu.Lock()
	s.opts[key] = opt
	s.mu.Unlock()
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestRetention checks what the pipeline asks stores to enforce: every object of an
// organization's day is kept until the day's end plus the organization's retentionDays,
// and the quarantine and the day's accounting as long as the longest of them.
func TestRetention(t *testing.T) {
	f := newFixture(t, sampleLog)
	rs := &recordingStore{Store: f.store, opts: map[string]archiver.CreateOptions{}}
	s := &archiver.Sealer{Source: f.src, Store: rs, Chain: ledger.Ledger{Store: rs}, Options: archiver.Options{Layout: archiver.Layout2, Now: fixedClock, TempDir: t.TempDir()}}
	if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	end := sampleDay.End()
	want := map[string]time.Time{acme: end.AddDate(0, 0, 2557), globex: end.AddDate(0, 0, 3650)}
	if len(rs.opts) != 11 {
		t.Errorf("%d objects created, want 11 (Acme's quarantine and the chat indexes among them)", len(rs.opts))
	}
	// A rerun that restores a lost day index keeps it as long as the manifest it copies.
	if err := os.Remove(filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), "r0001.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	for key, opt := range rs.opts {
		var w time.Time
		switch {
		case strings.HasPrefix(key, "quarantine/"), strings.HasPrefix(key, archiver.AccountingPrefix):
			w = want[globex]
		case strings.HasPrefix(key, "orgs/"+acme):
			w = want[acme]
		case strings.HasPrefix(key, "orgs/"+globex):
			w = want[globex]
		}
		if !opt.RetainUntil.Equal(w) {
			t.Errorf("%s: retain until %v, want %v", key, opt.RetainUntil, w)
		}
	}
}

// TestSpillFailureCommitsNothing makes the sort's spill fail (its folder is gone): the run
// must stop with an error naming the cause, commit nothing, and not hang.
func TestSpillFailureCommitsNothing(t *testing.T) {
	f := newFixture(t, generated(t, 5_000, 0))
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
		Now: fixedClock, SortMemory: 64 << 10, TempDir: filepath.Join(t.TempDir(), "missing")}}
	_, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err == nil || !strings.Contains(err.Error(), "sort run") {
		t.Fatalf("Seal = %v, want a sort run error", err)
	}
	if files := storeFiles(t, f.storeDir); len(files) != 0 {
		t.Errorf("a failed run left %d objects in the store", len(files))
	}
	reliability.Record(t, "fault", "spill folder missing", reliability.CleanFailure, "run fails naming the sort run; nothing committed")
}

// TestDuplicatesAcrossBatches seals lines of about 200 KiB, each twice (once per file),
// so that the merge hands a batch of the organization's lines on to its compressor at
// nearly every line (the duplicate check compares with the last line of the batch at
// hand), and pairs of lines share a timestamp: every second copy must collapse, and only
// that.
func TestDuplicatesAcrossBatches(t *testing.T) {
	logDir := t.TempDir()
	dirJSON, err := os.ReadFile(filepath.Join("..", "testdata", "eventlog", "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(logDir, "directory.json"), dirJSON)
	const n = 9
	var lines bytes.Buffer
	for i := range n {
		text := strings.Repeat(string(rune('a'+i)), 100<<10)
		// Two lines share a timestamp and differ only in their text's last letter.
		ts := 1795338000000 + int64(i/2)*1000
		fmt.Fprintf(&lines, `{"eventType":"sent","chatId":"chat-acme-team","timestamp":%d,"eventTimestamp":%d,"messageId":"m-%03d","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"%s","markdownText":"%s","attachments":[]}}`+"\n",
			ts, ts, i/2, text, text[:len(text)-1]+"z")
	}
	day := filepath.Join(logDir, sampleDay.String())
	if err := os.Mkdir(day, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(day, "part-0001.jsonl"), lines.Bytes())
	writeFile(t, filepath.Join(day, "part-0002.jsonl"), lines.Bytes())
	writeFile(t, filepath.Join(day, "_CLOSED"), nil)

	f := newFixture(t, logDir)
	res := f.seal(t, sampleDay, archiver.Options{Workers: 2})
	if res.Input.Exported != n || res.Input.Duplicates != n {
		t.Fatalf("exported %d and collapsed %d duplicates, want %d and %d", res.Input.Exported, res.Input.Duplicates, n, n)
	}
	const acme = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	got, m := f.export(t, acme, sampleDay)
	if m.Counts.Exported != n || m.Counts.Duplicates != n {
		t.Fatalf("Acme's manifest counts %d exported, %d duplicates, want %d and %d", m.Counts.Exported, m.Counts.Duplicates, n, n)
	}
	seen := map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
		if seen[string(l)] {
			t.Fatalf("line of %d bytes exported twice", len(l))
		}
		seen[string(l)] = true
	}
	if len(seen) != n {
		t.Fatalf("export holds %d lines, want %d", len(seen), n)
	}
}

// TestSealerWithoutChain: a Sealer built without a ledger to read the chains it appends to
// (Sealer.Chain) is refused before it reads the day or writes an object, with an error
// that says what to set, rather than failing on a nil interface halfway through a commit.
func TestSealerWithoutChain(t *testing.T) {
	f := newFixture(t, sampleLog)
	s := &archiver.Sealer{Source: f.src, Store: f.store, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	_, err := s.Seal(t.Context(), sampleDay, f.directory, "")
	if err == nil || !strings.Contains(err.Error(), "ledger.Ledger{Store: store}") {
		t.Fatalf("Seal without a Chain: %v, want an error naming ledger.Ledger", err)
	}
	n := 0
	if err := filepath.WalkDir(f.storeDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d files in the store after a refused seal, want none", n)
	}
}
