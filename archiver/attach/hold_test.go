package attach_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

const holdOrg = "0a1c2e3f-0000-4000-8000-00000000aaaa"

// holdFiles are what the test's server serves: day 1 links a and b, day 2 links b and c,
// so b is a file of both days.
var holdFiles = map[string]string{"/a.txt": "file a\n", "/b.txt": "file b\n", "/c.txt": "file c\n"}

func holdSum(path string) string {
	s := sha256.Sum256([]byte(holdFiles[path]))
	return hex.EncodeToString(s[:])
}

// holdFixture is two sealed days of one organization whose records link files, on a
// store with Object Lock (played over a folder, or MinIO's), the organization without a
// retention of its own: only a legal hold keeps its objects.
type holdFixture struct {
	store  archiver.Store
	lg     ledger.Ledger
	cap    *attach.Capturer
	url    string
	d1, d2 archiver.Day
	at     time.Time
}

func newHoldFixture(t *testing.T, store archiver.Store) *holdFixture {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := holdFiles[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(b))
	}))
	t.Cleanup(srv.Close)
	f := &holdFixture{store: store, lg: ledger.Ledger{Store: store}, url: srv.URL,
		at: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	f.d1, _ = archiver.ParseDay("2026-11-22")
	f.d2, _ = archiver.ParseDay("2026-11-23")
	dir := `{"organizations":[{"id":"` + holdOrg + `","name":"Acme","archival":true,"archivalStart":"2026-01-01"}],
"users":[{"id":"u-ada","orgId":"` + holdOrg + `","email":"ada@acme.example","displayName":"Ada"}],
"bots":[],"chats":[{"id":"chat-acme","members":["u-ada"]}]}`
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("directory.json", dir)
	line := func(day archiver.Day, id string, paths ...string) string {
		ts := day.Start().UnixMilli() + 1000
		var atts []string
		for _, p := range paths {
			atts = append(atts, fmt.Sprintf(`{"name":"f","url":%q}`, srv.URL+p))
		}
		return fmt.Sprintf(`{"eventType":"sent","chatId":"chat-acme","timestamp":%d,"eventTimestamp":%d,"messageId":%q,"sender":{"participantType":"email","id":"u-ada","displayName":"Ada","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"see","markdownText":"see","attachments":[%s]}}`,
			ts, ts, id, strings.Join(atts, ","))
	}
	write(f.d1.String()+"/part-0001.jsonl", line(f.d1, "m-1", "/a.txt", "/b.txt")+"\n")
	// Day 2 links c with a fragment: the capture also records the URL it requested (without
	// the fragment), which the hold must hold too.
	write(f.d2.String()+"/part-0001.jsonl", line(f.d2, "m-2", "/b.txt", "/c.txt#page=2")+"\n")
	write(f.d1.String()+"/_CLOSED", "")
	write(f.d2.String()+"/_CLOSED", "")
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []archiver.Day{f.d1, f.d2} {
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Now: func() time.Time { return d.End().Add(time.Hour) }, TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}}
		res, err := s.Seal(t.Context(), d, []byte(dir), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Failed() {
			t.Fatalf("seal %s: %v", d, o.Err)
		}
	}
	fetcher, err := attach.NewFetcher(attach.Options{AllowedHosts: []string{strings.TrimPrefix(srv.URL, "http://")},
		Concurrency: 2, MaxSize: 1 << 20, ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second,
		Timeout: 10 * time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.cap = &attach.Capturer{Ledger: f.lg, Fetcher: fetcher, Now: func() time.Time { return f.d2.End().Add(2 * time.Hour) },
		Log: slog.New(slog.DiscardHandler)}
	return f
}

func (f *holdFixture) capture(t *testing.T, day archiver.Day) {
	t.Helper()
	r, err := f.cap.CaptureDay(t.Context(), holdOrg, day)
	if err != nil {
		t.Fatal(err)
	}
	if r.Captured != 2 || r.Failed != 0 {
		t.Fatalf("capture %s: %+v, want 2 captured", day, r)
	}
}

func (f *holdFixture) hold(t *testing.T, matter string, day archiver.Day, on bool) ledger.HoldResult {
	t.Helper()
	f.at = f.at.Add(time.Minute)
	r, err := f.lg.Hold(t.Context(), ledger.HoldRequest{Org: holdOrg, Matter: matter, From: day, To: day, On: on, At: f.at, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// attachmentsOf returns the attachment objects of day as the capture stored them: its
// index revisions and named records, and the files and URL records of paths.
func (f *holdFixture) attachmentsOf(t *testing.T, day archiver.Day, paths ...string) []string {
	t.Helper()
	var keys []string
	if err := f.store.List(t.Context(), attach.IndexPrefix(holdOrg, day), func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("%s has no attachment index", day)
	}
	for _, link := range paths {
		p, _, fragment := strings.Cut(link, "#")
		if fragment {
			u := sha256.Sum256([]byte(f.url + p)) // the URL requested, without the fragment
			keys = append(keys, attach.Prefix+holdOrg+"/urls/"+hex.EncodeToString(u[:])+".json")
		}
		raw, _ := hex.DecodeString(holdSum(p))
		keys = append(keys, attach.FileKey(holdOrg, [sha256.Size]byte(raw)),
			attach.Prefix+holdOrg+"/named/"+holdSum(p)+"/"+day.String())
		u := sha256.Sum256([]byte(f.url + link))
		keys = append(keys, attach.Prefix+holdOrg+"/urls/"+hex.EncodeToString(u[:])+".json")
	}
	return keys
}

// checkHeld compares the attachment objects held with want.
func checkHeld(t *testing.T, step string, held []string, want ...[]string) {
	t.Helper()
	var got []string
	for _, k := range held {
		if strings.HasPrefix(k, attach.Prefix) {
			got = append(got, k)
		}
	}
	all := slices.Concat(want...)
	slices.Sort(all)
	all = slices.Compact(all)
	for _, k := range all {
		if !slices.Contains(got, k) {
			t.Errorf("%s: %s not held", step, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(all, k) {
			t.Errorf("%s: %s held, want it not", step, k)
		}
	}
}

// runAttachmentHold plays the holds of the test on f, checking with held what is held
// after each step; refused, when set, checks that deleting each key fails or not.
func runAttachmentHold(t *testing.T, f *holdFixture, held func() []string, deletable func(key string) bool) {
	f.capture(t, f.d1)
	// Day 1 held: its index, its named records, files a and b and their URL records.
	f.hold(t, "case-1", f.d1, true)
	day1 := f.attachmentsOf(t, f.d1, "/a.txt", "/b.txt")
	checkHeld(t, "day 1 held", held(), day1)

	// Day 2 held before its capture: the capture holds what it stores.
	f.hold(t, "case-2", f.d2, true)
	f.capture(t, f.d2)
	day2 := f.attachmentsOf(t, f.d2, "/b.txt", "/c.txt#page=2")
	checkHeld(t, "day 2 held, then captured", held(), day1, day2)

	// Day 1's hold lifted: file b stays held, day 2 names it.
	r := f.hold(t, "case-1", f.d1, false)
	checkHeld(t, "day 1 lifted", held(), day2)
	if r.Kept == 0 || len(r.Missing) != 0 {
		t.Errorf("lifting day 1: %+v, want some kept (file b) and none missing", r)
	}
	if deletable != nil {
		a, b := day1[len(day1)-6], day1[len(day1)-3] // files a and b
		if !strings.Contains(a, holdSum("/a.txt")) || !strings.Contains(b, holdSum("/b.txt")) {
			t.Fatalf("files a and b are not %s and %s", a, b)
		}
		if deletable(b) {
			t.Errorf("file b, named by held day 2, could be deleted")
		}
		if !deletable(a) {
			t.Errorf("file a, named by no held day and kept by no retention, could not be deleted")
		}
	}
	f.hold(t, "case-2", f.d2, false)
	checkHeld(t, "both lifted", held())
	if deletable == nil {
		return
	}
	// A file an index names but the store no longer holds (deleted while nothing kept it):
	// the hold holds the rest and names it.
	c := day2[len(day2)-3]
	if !strings.Contains(c, holdSum("/c.txt")) || !deletable(c) {
		t.Fatalf("file c (%s) could not be deleted", c)
	}
	r = f.hold(t, "case-3", f.d2, true)
	if !slices.Equal(r.Missing, []string{c}) {
		t.Errorf("hold of day 2 without file c: missing %q, want %q", r.Missing, c)
	}
	checkHeld(t, "day 2 held without file c", held(), slices.DeleteFunc(slices.Clone(day2), func(k string) bool { return k == c }))
	f.hold(t, "case-3", f.d2, false)
}

// TestHoldAttachments: a legal hold of an organization's day holds the day's attachment
// objects: every revision of its attachment index, its named records, and the captured
// files (with their URL records) the indexes name; a capture of a day held before it
// was captured holds what it stores; a file named by a held and an unheld day stays held
// while a hold names it, and lifting one day's hold keeps what another held day names.
// Played over a folder store.
func TestHoldAttachments(t *testing.T) {
	fs, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	ls := storetest.NewLockingStore(fs)
	f := newHoldFixture(t, ls)
	runAttachmentHold(t, f, ls.HeldKeys, nil)
	reliability.Record(t, "security", "legal hold of a day's attachment objects (folder store with a played Object Lock)", reliability.Kept,
		"the day's index revisions, named records, captured files and URL records are held, also when captured after the hold; a file another held day names stays held when one day's hold is lifted")
}

// TestHoldAttachmentsS3 is TestHoldAttachments on MinIO with Object Lock: the legal hold
// status is read back with GetObjectLegalHold for every version, and deleting a version
// of a held file is refused while deleting one that no hold names (and no retention
// keeps) is not.
func TestHoldAttachmentsS3(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	st, err := s3.NewStore(t.Context(), c, bucket, "cv", s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newHoldFixture(t, st)
	held := func() []string { return srv.LegalHeld(t, bucket, "cv/") }
	deletable := func(key string) bool { return srv.DeleteVersion(t, bucket, "cv/"+key) }
	runAttachmentHold(t, f, held, deletable)
	reliability.Record(t, "security", "legal hold of a day's attachment objects on S3", reliability.Kept,
		"GetObjectLegalHold reads ON for the day's index revisions, named records, captured files and URL records; deleting a held file's version is refused, and a file no held day names is no longer held; a file an index names but the store lost is reported as missing and the rest is held")
}

// TestHoldLiftCost: lifting a day's hold decides whether each of its captured files is
// still named by a held day from the files' named records (one listing per file), not by
// reading every other held day of the organization: the requests of the --off do not grow
// with the days another matter holds. Counted with a counting store, for 10 and 40 held
// days of another matter.
func TestHoldLiftCost(t *testing.T) {
	cost := func(heldDays int) int {
		fs, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		cnt := storetest.NewCounting(fs)
		ls := storetest.NewLockingStore(cnt)
		f := newHoldFixture(t, ls)
		f.capture(t, f.d1)
		f.capture(t, f.d2)
		// Another matter holds day 2 and heldDays days after it.
		f.at = f.at.Add(time.Minute)
		to := f.d2
		for range heldDays {
			to = to.Next()
		}
		if _, err := f.lg.Hold(t.Context(), ledger.HoldRequest{Org: holdOrg, Matter: "big", From: f.d2, To: to, On: true, At: f.at, By: "test"}); err != nil {
			t.Fatal(err)
		}
		f.hold(t, "case-1", f.d1, true)
		cnt.Reset()
		r := f.hold(t, "case-1", f.d1, false)
		n := cnt.Counts().Requests()
		// File b is named by day 2, which "big" holds: kept; file a released.
		checkHeld(t, fmt.Sprintf("%d held days: day 1 lifted", heldDays), ls.HeldKeys(), f.attachmentsOf(t, f.d2, "/b.txt", "/c.txt#page=2"))
		if r.Kept == 0 {
			t.Errorf("%d held days: lifting day 1 kept nothing: %+v", heldDays, r)
		}
		return n
	}
	small, large := cost(10), cost(40)
	t.Logf("requests of hold --off of one day: %d with 10 other held days, %d with 40", small, large)
	if large != small {
		t.Errorf("hold --off of one day: %d requests with 10 other held days, %d with 40: it grows with the days held", small, large)
	}
	reliability.Record(t, "operations", "hold --off of a day with captured files while another matter holds many days", reliability.Kept,
		"whether a file is still named by a held day is read from its named records, one listing per file: the requests do not grow with the other held days")
}
