package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

const crashDay = "2026-11-22"

// crashDayRig is a generated day and what an uninterrupted run made of it: the bytes every
// crashed and rerun seal must end with.
type crashDayRig struct {
	log     string
	refDir  string // the uninterrupted run's folder store
	dirJSON []byte
	common  []string          // run flags besides --store and --temp-dir
	ref     map[string][]byte // organization → JSONL of the uninterrupted run
	refKeys []string          // every key the uninterrupted run stored
	refCode int               // its exit code (3: the day has bad records)
	refWall time.Duration
}

// newCrashDay generates a day and seals it once, uninterrupted, with the crashpoint
// binary into a folder, as the reference.
func newCrashDay(t *testing.T, events, orgs, minOrgs, files, bad int, common ...string) *crashDayRig {
	t.Helper()
	r := &crashDayRig{log: t.TempDir(), common: common}
	gen := []string{"gen", "--date", crashDay, "--events", strconv.Itoa(events), "--orgs", strconv.Itoa(orgs),
		"--files", strconv.Itoa(files), "--bad", strconv.Itoa(bad), "--out", r.log}
	if code, out, errOut := reference(t, gen...); code != exitOK {
		t.Fatalf("gen: exit %d\n%s%s", code, out, errOut)
	}
	var err error
	if r.dirJSON, err = os.ReadFile(filepath.Join(r.log, "directory.json")); err != nil {
		t.Fatal(err)
	}
	ref := &fsTarget{dir: t.TempDir()}
	r.refDir = ref.dir
	res := runBinary(t, nil, nil, r.runArgs(t.TempDir(), ref)...)
	if res.killed || (res.code != exitOK && res.code != exitQuarantined) {
		t.Fatalf("reference run: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	r.refCode, r.refWall = res.code, res.wall
	st := ref.store(t)
	r.ref = map[string][]byte{}
	for _, key := range listKeys(t, st, "") {
		r.refKeys = append(r.refKeys, comparableKey(key))
		if org, ok := strings.CutPrefix(key, "orgs/"); ok {
			org, _, _ = strings.Cut(org, "/")
			if r.ref[org] == nil {
				r.ref[org] = exportOf(t, st, org)
			}
		}
	}
	if len(r.ref) < minOrgs {
		t.Fatalf("the generated day has %d archiving organizations; the test wants %d", len(r.ref), minOrgs)
	}
	return r
}

func (r *crashDayRig) runArgs(tempDir string, target crashTarget) []string {
	return append([]string{"run", "--date", crashDay, "--eventlog", r.log, "--temp-dir", tempDir, "--log-format", "json"},
		append(target.args(), r.common...)...)
}

// crashTarget is a store a crashed run leaves objects in.
type crashTarget interface {
	args() []string
	store(t *testing.T) archiver.Store
	// objects returns the identity of every object by key (what changes if it is written
	// again), how many keys have more than one version, and how many partial objects
	// (temporary files, unfinished multipart uploads) are lying around.
	objects(t *testing.T) (ids map[string]string, versions, partial int)
}

type fsTarget struct{ dir string }

func (f *fsTarget) args() []string { return []string{"--store", f.dir} }

func (f *fsTarget) store(t *testing.T) archiver.Store {
	s, err := fsstore.New(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// objects identifies a file by content, inode and modification time: a file written
// again, even with the same bytes, gets another inode or time.
func (f *fsTarget) objects(t *testing.T) (map[string]string, int, int) {
	ids := map[string]string{}
	partial := 0
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			partial++
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		ids[filepath.ToSlash(rel)] = fmt.Sprintf("%x ino %d mtime %d", sha256.Sum256(b), fi.Sys().(*syscall.Stat_t).Ino, fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, 0, partial
}

type s3Target struct {
	srv    *miniotest.Server
	bucket string
}

func (s *s3Target) args() []string { return []string{"--store", "s3://" + s.bucket + "/cv"} }

func (s *s3Target) store(t *testing.T) archiver.Store {
	st, err := s3.NewStore(context.Background(), s.srv.Client(), s.bucket, "cv", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// objects identifies an object by its version id and ETag; every version and delete
// marker counts, so a second write of a key shows even though the bucket keeps both.
func (s *s3Target) objects(t *testing.T) (map[string]string, int, int) {
	c := s.srv.Client()
	ids := map[string]string{}
	versions := 0
	p := awss3.NewListObjectVersionsPaginator(c, &awss3.ListObjectVersionsInput{Bucket: aws.String(s.bucket), Prefix: aws.String("cv/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			key := strings.TrimPrefix(aws.ToString(v.Key), "cv/")
			if _, dup := ids[key]; dup {
				versions++
			}
			ids[key] = aws.ToString(v.VersionId) + " " + aws.ToString(v.ETag)
		}
		versions += len(page.DeleteMarkers)
	}
	uploads, err := c.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return ids, versions, len(uploads.Uploads)
}

func listKeys(t *testing.T, st archiver.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), prefix, func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// exportOf returns the organization's latest export of the day, decompressed.
func exportOf(t *testing.T, st archiver.Store, org string) []byte {
	t.Helper()
	_, rc, err := ledger.Ledger{Store: st}.OpenExport(context.Background(), org, mustParseDay(t, crashDay))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParseDay(t *testing.T, s string) archiver.Day {
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// crashStats are the figures of the closing note.
type crashStats struct {
	points, kills, reruns, lost, duplicates, overwritten, partialLeft, tempLeft, served, pending int
}

// add counts o's figures into s.
func (s *crashStats) add(o crashStats) {
	s.points += o.points
	s.kills += o.kills
	s.reruns += o.reruns
	s.lost += o.lost
	s.duplicates += o.duplicates
	s.overwritten += o.overwritten
	s.partialLeft += o.partialLeft
	s.tempLeft += o.tempLeft
	s.served += o.served
	s.pending += o.pending
}

func (s crashStats) String() string {
	return fmt.Sprintf("kill points tried %d, processes killed %d, reruns %d, records lost %d, duplicate objects %d, "+
		"overwritten objects %d; the API served %d committed exports (each matching its manifest) and answered 409 pending "+
		"%d times, never a partial body; left behind after the reruns: %d partial objects (hidden temporary files, unfinished "+
		"multipart uploads) in the store and %d files in export.tempDir",
		s.points, s.kills, s.reruns, s.lost, s.duplicates, s.overwritten, s.served, s.pending, s.partialLeft, s.tempLeft)
}

// tokens is the API's token lookup: one token per organization, named by it.
type tokens map[string]archiver.Token

func (m tokens) Lookup(secret string, _ time.Time) (archiver.Token, error) {
	if tok, ok := m[secret]; ok {
		return tok, nil
	}
	return archiver.Token{}, errors.New("unknown token")
}

// checkServed asks the export API, over the store as the crash left it, for every
// organization's day. Each answer must be the whole committed export (the same bytes as
// the uninterrupted run, matching the manifest's hash in the headers) or 409 pending:
// never a partial body, never an error.
func (r *crashDayRig) checkServed(t *testing.T, st archiver.Store, stats *crashStats) {
	t.Helper()
	dir, err := model.ParseDirectory(r.dirJSON)
	if err != nil {
		t.Fatal(err)
	}
	auditStore, err := fsstore.New(t.TempDir()) // the API's access log, kept out of the archive under test
	if err != nil {
		t.Fatal(err)
	}
	defer auditStore.Close()
	toks := tokens{}
	for org := range r.ref {
		toks["token-"+org] = archiver.Token{ID: org, Name: "crash", Org: org, Scopes: []string{archiver.ScopeComplianceRead}}
	}
	api := &httpapi.Server{
		Exports: ledger.Ledger{Store: st}, Tokens: toks, Audit: &audit.Log{Store: auditStore},
		Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
		Now:       func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		Logger:    slog.New(slog.DiscardHandler), TokenRate: -1, ClientRate: -1,
	}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	for org, want := range r.ref {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/messageevent.export", strings.NewReader(`{"date":"`+crashDay+`"}`))
		req.Header.Set("Authorization", "Bearer token-"+org)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusConflict && strings.Contains(string(body), `"export_pending"`):
			stats.pending++
		case resp.StatusCode == http.StatusOK:
			sum := sha256.Sum256(body)
			if err != nil || hex.EncodeToString(sum[:]) != resp.Header.Get(httpapi.HeaderSHA256) || !bytes.Equal(body, want) {
				t.Fatalf("org %s: the API served %d bytes (read error %v) that do not match the manifest's hash or the uninterrupted run", org, len(body), err)
			}
			stats.served++
		default:
			t.Fatalf("org %s: the API answered %d %s; want the committed export or 409 pending", org, resp.StatusCode, body)
		}
	}
}

// crashAndRecover kills a run at each of crashes in turn (NAME:N for CHATVAULT_CRASH_AT,
// or "random" for a seeded moment from outside), checks what the API serves after each
// kill, then reruns and checks the store: verify passes, every organization has exactly
// one revision holding the uninterrupted run's bytes, nothing that was stored was written
// again, and nothing is stored that the uninterrupted run did not store.
func (r *crashDayRig) crashAndRecover(t *testing.T, target crashTarget, crashes []string, rng *rand.Rand, stats *crashStats) {
	t.Helper()
	tempDir := t.TempDir()
	args := r.runArgs(tempDir, target)
	st := target.store(t)
	before, _, _ := target.objects(t) // what an earlier, failed run left must stay as it is
	for _, spec := range crashes {
		var res exited
		if spec == "random" {
			// The reference run's time includes a cold start; later runs are quicker.
			delay := time.Duration(rng.Int64N(int64(r.refWall) * 2 / 3))
			var timer *time.Timer
			res = runBinary(t, nil, func(p *os.Process) { timer = time.AfterFunc(delay, func() { p.Kill() }) }, args...)
			timer.Stop()
			t.Logf("random kill after %s: killed %t (exit %d)", delay.Round(time.Millisecond), res.killed, res.code)
		} else {
			res = runBinary(t, []string{"CHATVAULT_CRASH_AT=" + spec}, nil, args...)
			if !res.killed {
				t.Fatalf("%s: the run was not killed (exit %d): the point was not reached\n%s%s", spec, res.code, res.stdout, res.stderr)
			}
		}
		if res.killed {
			stats.kills++
		} else if res.code != r.refCode {
			t.Fatalf("run finished before the kill with exit %d, want %d\n%s", res.code, r.refCode, res.stderr)
		}
		r.checkServed(t, st, stats)
		ids, _, _ := target.objects(t)
		for k, id := range before {
			if ids[k] != id {
				t.Errorf("%s: object %s was written again or removed by the next run", spec, k)
				stats.overwritten++
			}
		}
		before = ids
	}

	// A kill that came after the day's accounting object (the run's last write), or too
	// late to stop the run at all, left everything recorded: the rerun then changes nothing
	// and, having quarantined nothing itself, exits 0 rather than the reference run's 3
	// (see TestRunExportVerifyStatus).
	want := r.refCode
	for k := range before {
		if want == exitQuarantined && strings.HasPrefix(k, "accounting/") {
			want = exitOK
		}
	}
	res := runBinary(t, nil, nil, args...)
	stats.reruns++
	if res.killed || res.code != want {
		t.Fatalf("rerun: exit %d (killed %t), want %d\n%s%s", res.code, res.killed, want, res.stdout, res.stderr)
	}
	// Only one day is sealed, so organizations whose archivalStart lies before it get the
	// backlog warning ("never sealed"); the temporary files the killed run left (the rerun
	// does not reuse them) are counted in one, and verify --remove-temporaries removes
	// those of the killed process, after which none of theirs is warned of; any other
	// warning (an orphaned export) is a failure.
	verifyArgs := append([]string{"verify", "--log-format", "json", "--eventlog", r.log}, target.args()...)
	for _, remove := range []bool{false, true} {
		args := verifyArgs
		if _, fs := target.(*fsTarget); remove && fs {
			args = append(append([]string{}, verifyArgs...), "--remove-temporaries")
		}
		v := runBinary(t, nil, nil, args...)
		if v.code != exitOK || !strings.Contains(v.stdout, " 0 problems, ") {
			t.Fatalf("verify after the rerun: exit %d\n%s%s", v.code, v.stdout, v.stderr)
		}
		for _, rec := range logRecords(t, v.stderr) {
			w, ok := rec["warning"].(string)
			switch {
			case !ok || strings.Contains(w, "were never sealed"):
			case strings.Contains(w, "left in the store by writes that did not finish") && !(remove && strings.Contains(w, "whose process is gone")):
				t.Logf("verify after the rerun: %s", w)
			default:
				t.Fatalf("verify after the rerun (remove temporaries %t) warns: %s", remove, w)
			}
		}
	}
	after, versions, partial := target.objects(t)
	stats.duplicates += versions
	stats.partialLeft += partial
	// The rerun removes its own work folder, and those of the runs that were killed.
	left, err := os.ReadDir(tempDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if e.Name() != "chatvault.lock" { // the guard of the sweep, empty
			t.Errorf("left in export.tempDir after the rerun: %s", e.Name())
			stats.tempLeft++
		}
	}
	if versions > 0 {
		t.Errorf("%d keys have more than one version", versions)
	}
	for k, id := range before {
		if after[k] != id {
			t.Errorf("object %s was written again or removed by the rerun", k)
			stats.overwritten++
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range after {
			if _, earlier := before[k]; earlier && strings.Contains(k, "failed-") {
				// An earlier failed run's record of its attempt (TestFullDisk): part of the
				// audit trail, kept as it was (checked above), not the rerun's.
				continue
			}
			if !yield(comparableKey(k)) {
				return
			}
		}
	})
	if !slices.Equal(keys, r.refKeys) {
		extra := 0
		for _, k := range keys {
			if !slices.Contains(r.refKeys, k) {
				extra++
				t.Errorf("object %s is not in the uninterrupted run's store", k)
			}
		}
		stats.duplicates += extra
		t.Fatalf("the store holds %d objects, the uninterrupted run's %d", len(keys), len(r.refKeys))
	}
	for org, want := range r.ref {
		day := "orgs/" + org + "/days/" + crashDay + "/r"
		if revs, chain := listKeys(t, st, day), listKeys(t, st, "orgs/"+org+"/manifests/"); len(revs) != 1 || len(chain) != 1 {
			t.Errorf("org %s: revisions %v, chain %v; want exactly one of each", org, revs, chain)
		}
		got := exportOf(t, st, org)
		if !bytes.Equal(got, want) {
			have := map[string]bool{}
			for _, l := range bytes.Split(got, []byte("\n")) {
				have[string(l)] = true
			}
			for _, l := range bytes.Split(want, []byte("\n")) {
				if !have[string(l)] {
					stats.lost++
				}
			}
			t.Errorf("org %s: the export differs from the uninterrupted run's", org)
		}
	}
}

// comparableKey is key as the runs of one day must agree on it: an accounting object is
// named by its number and its hash, and its bytes hold when it was made and which
// manifests the run committed or found unchanged, so only its number must agree.
func comparableKey(key string) string {
	if rest, ok := strings.CutPrefix(key, archiver.AccountingPrefix); ok {
		n, _, _ := strings.Cut(rest, "-")
		return archiver.AccountingPrefix + n
	}
	return key
}

// crashCases are the named kill points, each with the run (one worker, a 64 KiB sort
// budget: about thirty sorted runs) killed at the given hit, then rerun.
var crashCases = []struct {
	name    string
	crashes []string
	check   func(t *testing.T, target *fsTarget) // the state the kill left, before any rerun
}{
	{"SIGKILL at the first line read", []string{"read.line:1"}, nil},
	{"SIGKILL after 2,000 lines read", []string{"read.line:2000"}, nil},
	{"SIGKILL after the first sorted run spilled", []string{"sort.spill:1"}, nil},
	{"SIGKILL after 20 sorted runs spilled", []string{"sort.spill:20"}, nil},
	{"SIGKILL halfway through writing a sorted run", []string{"temp.write:10"}, nil},
	{"SIGKILL at the start of the merge", []string{"merge.record:1"}, nil},
	{"SIGKILL in the middle of the merge", []string{"merge.record:1500"}, nil},
	{"SIGKILL halfway through writing the quarantine object", []string{"fsstore.write:1"}, partialLeft},
	{"SIGKILL after the quarantine object", []string{"store.quarantine:1"}, nil},
	{"SIGKILL halfway through writing an export", []string{"fsstore.write:3"}, partialLeft},
	{"SIGKILL after an export, before its manifest", []string{"store.export:1"}, nil},
	{"SIGKILL after every export, before any manifest", []string{"store.export:2"}, nil},
	{"SIGKILL after the exports were synced, before any was linked to its key", []string{"fsstore.flush.synced:1"}, partialLeft},
	{"SIGKILL after the first of the day's objects was linked, before the names were synced", []string{"fsstore.flush.link:1"}, partialLeft},
	{"SIGKILL after two of the day's objects were linked, before the names were synced", []string{"fsstore.flush.link:2"}, nil},
	{"SIGKILL between chain entry and day index", []string{"commit.chain:1"}, nil},
	{"SIGKILL after one organization committed", []string{"commit.index:1"}, nil},
	{"SIGKILL in the second organization's commit", []string{"commit.chain:2"}, nil},
	{"SIGKILL twice: after an export, then in the rerun's commit", []string{"store.export:1", "commit.chain:1"}, nil},
	{"SIGKILL after every manifest, before the day's accounting object", []string{"commit.accounting:1"}, noAccounting},
}

// noAccounting checks that the kill left committed manifests without the day's
// accounting object: verify must say so until the rerun writes it.
func noAccounting(t *testing.T, target *fsTarget) {
	t.Helper()
	if keys := listKeys(t, target.store(t), archiver.AccountingPrefix); len(keys) != 0 {
		t.Fatalf("accounting objects %v before the rerun: the kill came too late", keys)
	}
	if keys := listKeys(t, target.store(t), "orgs/"); len(keys) == 0 {
		t.Fatal("no manifests committed: the kill came too early")
	}
}

// partialLeft checks that the kill left a partly written temporary file: the point
// really is in the middle of an object.
func partialLeft(t *testing.T, target *fsTarget) {
	t.Helper()
	if _, _, partial := target.objects(t); partial == 0 {
		t.Fatal("no partly written temporary file: the kill did not land inside an object's write")
	}
}

// TestCrashRecovery seals a generated day while killing the process (SIGKILL) at every
// named point of internal/crashpoint and at seeded random moments from outside, then
// reruns. After every kill the API serves only whole, committed exports (or 409); after
// every rerun verify passes and each organization's day has exactly one revision, with
// the bytes of an uninterrupted run, and no object was written twice.
func TestCrashRecovery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHATVAULT_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	cleanEnv(t)
	pinLayout2(t)
	rig := newCrashDay(t, 4000, 6, 2, 3, 20, "--sort-memory", "64KiB", "--workers", "1")
	var stats crashStats
	var statsMu sync.Mutex
	// The named points run in parallel with one another (each in its own store and
	// temporary folder, the environment set above and left alone): they start once this
	// function has returned, after the random kills, and the totals are checked when all
	// of them have ended.
	t.Cleanup(func() {
		t.Logf("crash test (folder store): %s", stats)
		if stats.lost != 0 || stats.duplicates != 0 || stats.overwritten != 0 {
			t.Errorf("records lost %d, duplicates %d, overwritten %d; want none", stats.lost, stats.duplicates, stats.overwritten)
		}
	})
	for _, tc := range crashCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := &fsTarget{dir: t.TempDir()}
			if tc.check != nil {
				// Kill once to look at the state left behind; crashAndRecover starts over.
				check := &fsTarget{dir: t.TempDir()}
				if res := runBinary(t, []string{"CHATVAULT_CRASH_AT=" + tc.crashes[0]}, nil, rig.runArgs(t.TempDir(), check)...); !res.killed {
					t.Fatalf("not killed: exit %d", res.code)
				}
				tc.check(t, check)
			}
			var own crashStats
			rig.crashAndRecover(t, target, tc.crashes, nil, &own)
			own.points += len(tc.crashes)
			statsMu.Lock()
			stats.add(own)
			statsMu.Unlock()
			reliability.Record(t, "crash", tc.name, reliability.Recovered,
				"nothing partial served; rerun commits one revision, byte-identical to an uninterrupted run; verify passes")
		})
	}

	// Kills from outside at moments nobody named, with two workers.
	t.Logf("random kills: seed %d (CHATVAULT_CRASH_SEED=%d reproduces them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	random := newCrashDay(t, 4000, 6, 2, 3, 20, "--sort-memory", "64KiB", "--workers", "2")
	t.Run("random", func(t *testing.T) {
		for i := range 6 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				own := crashStats{points: 1}
				random.crashAndRecover(t, &fsTarget{dir: t.TempDir()}, []string{"random"}, rng, &own)
				statsMu.Lock()
				stats.add(own)
				statsMu.Unlock()
			})
		}
		if !t.Failed() {
			reliability.Record(t, "crash", "SIGKILL from outside at seeded random moments", reliability.Recovered,
				"rerun commits one revision, byte-identical to an uninterrupted run; verify passes")
		}
	})
}

// TestCrashRecoveryS3 kills runs that store into a locked MinIO bucket: in the middle of a
// multipart upload, between an export and its manifest, and between a chain entry and its
// day index. The rerun ends with the objects an uninterrupted run stores in a folder.
func TestCrashRecoveryS3(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	// Large enough for an export above the 5 MiB part size: a multipart upload.
	rig := newCrashDay(t, 80_000, 2, 1, 2, 10, "--workers", "1")
	multipart := false
	for _, key := range rig.refKeys {
		if strings.Contains(key, "/events-") {
			fi, err := os.Stat(filepath.Join(rig.refDir, key))
			if err != nil {
				t.Fatal(err)
			}
			multipart = multipart || fi.Size() > 5<<20
		}
	}
	if !multipart {
		t.Fatal("no export is above the 5 MiB part size: the test would not reach a multipart upload")
	}
	var stats crashStats
	var statsMu sync.Mutex
	// The points run in parallel, each in its own bucket; the totals are checked when all
	// of them have ended.
	t.Cleanup(func() {
		t.Logf("crash test (S3 store): %s", stats)
		if stats.lost != 0 || stats.duplicates != 0 || stats.overwritten != 0 {
			t.Errorf("records lost %d, duplicates %d, overwritten %d; want none", stats.lost, stats.duplicates, stats.overwritten)
		}
	})
	for _, tc := range []struct{ name, point string }{
		{"S3: SIGKILL in the middle of a multipart upload", "s3.part:1"},
		{"S3: SIGKILL after an export, before its manifest", "store.export:1"},
		{"S3: SIGKILL between chain entry and day index", "commit.chain:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := &s3Target{srv: srv, bucket: srv.Bucket(t, true)}
			own := crashStats{points: 1}
			rig.crashAndRecover(t, target, []string{tc.point}, nil, &own)
			statsMu.Lock()
			stats.add(own)
			statsMu.Unlock()
			reliability.Record(t, "crash", tc.name, reliability.Recovered,
				"nothing partial served; rerun commits one revision, byte-identical to an uninterrupted run; verify passes")
		})
	}
}

// TestCrashPointsOnlyInTheTestBuild: the binary built with -tags crashpoints refuses a
// point it does not know, so a typo cannot make a crash test pass without crashing; and
// chatvault as built normally (this test binary's Main) ignores the variables: production
// binaries carry no kill switch.
func TestCrashPointsOnlyInTheTestBuild(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store}
	res := runBinary(t, []string{"CHATVAULT_CRASH_AT=no.such.point:1"}, nil, args...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "want NAME:N with a known NAME") {
		t.Errorf("unknown point: exit %d, want %d naming the problem\n%s", res.code, exitUsage, res.stderr)
	}
	t.Setenv("CHATVAULT_CRASH_AT", "read.line:1")
	t.Setenv("CHATVAULT_FULL_AT", "fsstore.write:1")
	if code, out, errOut := chatvault(t, args...); code != exitQuarantined {
		t.Errorf("normal build with crash variables set: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
}
