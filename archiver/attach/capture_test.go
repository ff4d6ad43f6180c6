package attach

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCapturer(t *testing.T, store archiver.Store, f *Fetcher, key ed25519.PrivateKey, now time.Time) *Capturer {
	return &Capturer{Ledger: ledger.Ledger{Store: store}, Fetcher: f, SigningKey: key,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, RetryFor: 72 * time.Hour,
		Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
}

func readObject(t *testing.T, s archiver.Store, key string) []byte {
	t.Helper()
	b, err := archiver.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sumOf(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// TestCaptureDay captures a sealed day's links for two organizations, then reruns: the
// rerun fetches nothing and writes nothing.
func TestCaptureDay(t *testing.T) { forLayouts(t, testCaptureDay) }

func testCaptureDay(t *testing.T) {
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }), false)
	srv := newServer(t, filesHandler(other.host(), 1<<20), false)
	offList := "http://" + other.host() + "/good/x"
	fs := sealDay(t, []msg{
		{"m-1", "u-ada", []string{srv.URL + "/good/a", srv.URL + "/missing"}},
		{"m-2", "u-ada", []string{srv.URL + "/good/a", offList}},
		{"m-3", "u-ada", []string{srv.URL + "/good/b"}},
		{"m-4", "u-hank", []string{srv.URL + "/good/a"}},
	})
	store := storetest.NewCounting(fs)
	key := newKey(t)
	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
	c.RetryFor = 0 // failures stand: the rerun below has nothing to retry (TestCaptureRetry retries)
	ctx := context.Background()

	res, err := c.CaptureDay(ctx, acme, testDay)
	if err != nil {
		t.Fatal(err)
	}
	if res.References != 5 || res.Captured != 3 || res.Failed != 2 || res.Fetched != 2 || res.Revision != 1 {
		t.Fatalf("acme: %+v, want 5 references, 3 captured, 2 failed, 2 files fetched, revision 1", res)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("server got %d requests, want 3 (a, b, the 404)", n)
	}
	ix, err := LatestIndex(ctx, store, acme, testDay, c.TrustedKeys)
	if err != nil || ix == nil {
		t.Fatalf("LatestIndex = %v, %v", ix, err)
	}
	a := sumOf("contents of a")
	type want struct{ msg, url, outcome, sha, reason string }
	wants := []want{
		{"m-1", srv.URL + "/good/a", Captured, a, ""},
		{"m-1", srv.URL + "/missing", Failed, "", ReasonHTTPStatus},
		{"m-2", srv.URL + "/good/a", Captured, a, ""},
		{"m-2", offList, Failed, "", ReasonHostNotAllowed},
		{"m-3", srv.URL + "/good/b", Captured, sumOf("contents of b"), ""},
	}
	if len(ix.Entries) != len(wants) {
		t.Fatalf("index has %d entries, want %d", len(ix.Entries), len(wants))
	}
	for i, w := range wants {
		e := ix.Entries[i]
		if e.MessageID != w.msg || e.URL != w.url || e.Outcome != w.outcome || e.SHA256 != w.sha || e.Reason != w.reason {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	if e := ix.Entries[1]; e.Status != 404 || e.Attempts != 1 {
		t.Errorf("404 entry = %+v, want status 404 after 1 attempt", e)
	}
	if e := ix.Entries[3]; e.Attempts != 0 {
		t.Errorf("off-list entry = %+v, want no attempt", e)
	}
	if e := ix.Entries[0]; e.Size != int64(len("contents of a")) || e.ContentType != "application/pdf" || e.Key != orgPrefix(acme)+"files/"+a {
		t.Errorf("captured entry = %+v", e)
	}
	if got := string(readObject(t, store, ix.Entries[0].Key)); got != "contents of a" {
		t.Fatalf("stored file = %q", got)
	}
	if ix.Manifest.Revision != 1 || ix.Signature == nil || ix.Counts != (Counts{5, 3, 2}) {
		t.Fatalf("index manifest %+v, counts %+v, signature %v", ix.Manifest, ix.Counts, ix.Signature)
	}

	// Globex links the same file: fetched and stored again, under its own key.
	gres, err := c.CaptureDay(ctx, globex, testDay)
	if err != nil {
		t.Fatal(err)
	}
	gix, _ := LatestIndex(ctx, store, globex, testDay, c.TrustedKeys)
	if gres.Fetched != 1 || gix == nil || gix.Entries[0].Key != orgPrefix(globex)+"files/"+a {
		t.Fatalf("globex: %+v, index %+v: want its own copy of the file", gres, gix)
	}
	reliability.Record(t, "security", "two organizations link the same attachment", reliability.Kept,
		"stored once per organization under its own key, never shared")

	// Rerun: nothing fetched, nothing written.
	before := srv.requests.Load()
	store.Reset()
	for _, org := range []string{acme, globex} {
		res, err := c.CaptureDay(ctx, org, testDay)
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != 0 || res.Fetched != 0 {
			t.Fatalf("rerun of %s: %+v, want nothing written or fetched", org, res)
		}
	}
	if n := srv.requests.Load() - before; n != 0 {
		t.Fatalf("rerun made %d requests, want none", n)
	}
	counts := store.Counts()
	t.Logf("rerun of two organizations: %v", counts)
	if counts["Create"] != 0 || counts.Requests() > 8 {
		t.Fatalf("rerun of two organizations: %v, want no create and at most 4 requests each", counts)
	}
	if n, conns := other.requests.Load(), other.conns.Load(); n != 0 || conns != 0 {
		t.Fatalf("server not on the list got %d requests on %d connections", n, conns)
	}
	reliability.Record(t, "operations", "attachment capture rerun with nothing new", reliability.Kept,
		"no fetch, no object written: a listing and a read of the day's manifest and of its index")
}

// TestCaptureRetry retries a failed capture within attachments.retryFor, appending a
// revision per attempt, and not after.
func TestCaptureRetry(t *testing.T) { forLayouts(t, testCaptureRetry) }

func testCaptureRetry(t *testing.T) {
	var up atomic.Bool
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("finally"))
	}), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/f", srv.URL + "/g"}}})
	key := newKey(t)
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
	ctx := context.Background()

	var revs []*StoredIndex
	step := func(wantRev int, wantFailed int) {
		t.Helper()
		res, err := c.CaptureDay(ctx, acme, testDay)
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != wantRev || res.Failed != wantFailed {
			t.Fatalf("capture: %+v, want revision %d with %d failed", res, wantRev, wantFailed)
		}
		ix, err := LatestIndex(ctx, fs, acme, testDay, c.TrustedKeys)
		if err != nil {
			t.Fatal(err)
		}
		if wantRev != 0 {
			revs = append(revs, ix)
		}
	}
	step(1, 2)
	step(2, 2)
	if e := revs[1].Entries[0]; e.Attempts != 2 || e.Status != 503 {
		t.Fatalf("second attempt entry %+v, want 2 attempts, status 503", e)
	}
	if revs[1].Previous != hex.EncodeToString(revs[0].SHA256[:]) || revs[1].PreviousKey != revs[0].Key {
		t.Fatalf("revision 2 chains to %s (%s), want revision 1", revs[1].PreviousKey, revs[1].Previous)
	}
	up.Store(true)
	step(3, 0)
	n := srv.requests.Load()
	step(0, 0) // all captured: nothing to do
	if srv.requests.Load() != n {
		t.Fatal("a day with every link captured was fetched again")
	}
	// Both revisions before stay as they were.
	for _, ix := range revs[:2] {
		if got := sha256.Sum256(readObject(t, fs, ix.Key)); got != ix.SHA256 {
			t.Fatalf("%s changed", ix.Key)
		}
	}
	reliability.Record(t, "fault", "attachment server down at capture, back later", reliability.Recovered,
		"retried by later runs within attachments.retryFor, a new index revision per attempt")

	// Past the retry period a failure stands: no request, no revision.
	fs2 := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/f"}}})
	up.Store(false)
	c2 := newCapturer(t, fs2, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
	if res, err := c2.CaptureDay(ctx, acme, testDay); err != nil || res.Failed != 1 {
		t.Fatalf("capture: %+v, %v", res, err)
	}
	up.Store(true)
	c2.Now = func() time.Time { return testDay.End().Add(73 * time.Hour) }
	n = srv.requests.Load()
	if res, err := c2.CaptureDay(ctx, acme, testDay); err != nil || res.Revision != 0 || res.Failed != 1 || srv.requests.Load() != n {
		t.Fatalf("capture past the retry period: %+v, %v, %d requests: want none", res, err, srv.requests.Load()-n)
	}
}

// failingStore fails the first Create of a key containing part, as a crash there would
// leave the store.
type failingStore struct {
	archiver.Store
	part   string
	failed atomic.Bool
}

var errInjected = errors.New("injected failure")

func (s *failingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.Contains(key, s.part) && s.failed.CompareAndSwap(false, true) {
		return errInjected
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestCaptureInterrupted stops a capture at each of its writes (the file, the URL's
// record, the index): nothing is half-stored, and the next run completes with the index a
// clean run writes.
func TestCaptureInterrupted(t *testing.T) {
	for _, part := range []string{"/files/", "/urls/", "/index/"} {
		t.Run(strings.Trim(part, "/"), func(t *testing.T) {
			srv := newServer(t, filesHandler("", 1<<20), false)
			fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a", srv.URL + "/good/b"}}})
			store := &failingStore{Store: fs, part: part}
			c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
			ctx := context.Background()
			if _, err := c.CaptureDay(ctx, acme, testDay); !errors.Is(err, errInjected) {
				t.Fatalf("capture = %v, want the injected failure", err)
			}
			if ix, err := LatestIndex(ctx, fs, acme, testDay, nil); err != nil || ix != nil {
				t.Fatalf("index after the failure: %v, %v; want none", ix, err)
			}
			// Every file stored is whole: its bytes hash to its name.
			err := fs.List(ctx, orgPrefix(acme)+"files/", func(key string) error {
				if sumOf(string(readObject(t, fs, key))) != key[strings.LastIndex(key, "/")+1:] {
					t.Errorf("%s does not hash to its name", key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			before := srv.requests.Load()
			res, err := c.CaptureDay(ctx, acme, testDay)
			if err != nil || res.Revision != 1 || res.Captured != 2 {
				t.Fatalf("rerun: %+v, %v; want revision 1 with both captured", res, err)
			}
			if part == "/index/" && srv.requests.Load() != before {
				// Both files and their URL records were stored: a file fetched once is
				// never fetched again, index or not.
				t.Fatalf("rerun fetched %d files again, want none", srv.requests.Load()-before)
			}
			reliability.Record(t, "crash", "attachment capture interrupted at its "+strings.Trim(part, "/")+" write", reliability.Recovered,
				"nothing half-stored; the next run completes the index")
		})
	}
}

// TestIndexSignature refuses an index signed by another key or altered after signing.
func TestIndexSignature(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a"}}})
	key := newKey(t)
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
	ctx := context.Background()
	if _, err := c.CaptureDay(ctx, acme, testDay); err != nil {
		t.Fatal(err)
	}
	k := IndexKey(acme, testDay, 1, 1, false)
	b := readObject(t, fs, k)
	if _, err := DecodeIndex(k, b, c.TrustedKeys); err != nil {
		t.Fatalf("DecodeIndex with the signer's key: %v", err)
	}
	other := newKey(t).Public().(ed25519.PublicKey)
	if _, err := DecodeIndex(k, b, []ed25519.PublicKey{other}); !errors.Is(err, archiver.ErrBadSignature) {
		t.Fatalf("DecodeIndex with another key = %v, want ErrBadSignature", err)
	}
	forged := strings.Replace(string(b), `"outcome": "captured"`, `"outcome": "failed"`, 1)
	if _, err := DecodeIndex(k, []byte(forged), c.TrustedKeys); !errors.Is(err, archiver.ErrBadSignature) {
		t.Fatalf("DecodeIndex of an altered index = %v, want ErrBadSignature", err)
	}
	if _, err := DecodeIndex(IndexKey(globex, testDay, 1, 1, false), b, nil); err == nil {
		t.Fatal("DecodeIndex under another organization's key succeeded")
	}
	reliability.Record(t, "security", "attachment index altered after signing", reliability.Refused, "signature does not verify")
}

// TestCaptureMemoryBounded captures a day linking a 64 MiB file into a folder store and
// counts the bytes allocated: fetch, staging and the store's create stream it.
func TestCaptureMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size = 64 << 20
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096))
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/big"}}, {"m-2", "u-ada", []string{srv.URL + "/warm"}}})
	opt := testOptions(srv.host())
	opt.MaxSize, opt.Timeout, opt.HeaderTimeout = 128<<20, time.Minute, 10*time.Second
	c := newCapturer(t, fs, newTestFetcher(t, opt), newKey(t), testDay.End().Add(time.Hour))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := c.CaptureDay(context.Background(), acme, testDay)
	runtime.ReadMemStats(&after)
	if err != nil || res.Captured != 2 || res.FetchedBytes != 2*size {
		t.Fatalf("capture: %+v, %v", res, err)
	}
	// Two files of 64 MiB: the bound is far below one.
	const bound = 4 << 20
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("capturing 2 x %d MiB allocated %d bytes", size>>20, alloc)
	if alloc > bound {
		t.Fatalf("capturing 2 x %d MiB allocated %d bytes, want at most %d", size>>20, alloc, bound)
	}
	reliability.Record(t, "operations", "attachment capture of two 64 MiB files into the store", reliability.Kept,
		"allocations bounded (under 4 MiB) whatever the files' size: streamed through a staging file")
}

// TestCaptureDayWithoutLinks writes an index of no entries for a day with records but no
// link, so that "nothing to capture" differs from "never captured"; CaptureRecent
// captures a sealed day whose capture never ran, and then has nothing to do.
func TestCaptureDayWithoutLinks(t *testing.T) { forLayouts(t, testCaptureDayWithoutLinks) }

func testCaptureDayWithoutLinks(t *testing.T) {
	fs := sealDay(t, []msg{{"m-1", "u-ada", nil}})
	store := storetest.NewCounting(fs)
	c := newCapturer(t, store, newTestFetcher(t, testOptions("files.example")), newKey(t), testDay.End().Add(time.Hour))
	ctx := context.Background()
	var got []DayResult
	if err := c.CaptureRecent(ctx, acme, c.RetryFrom(c.now()), testDay, nil, func(r DayResult) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Revision != 1 || got[0].References != 0 {
		t.Fatalf("CaptureRecent = %+v, want the day captured as revision 1 with no reference", got)
	}
	ix, err := LatestIndex(ctx, store, acme, testDay, c.TrustedKeys)
	if err != nil || ix == nil || len(ix.Entries) != 0 || ix.Counts != (Counts{}) {
		t.Fatalf("index %+v, %v: want one of no entries", ix, err)
	}
	days := daysListing(t, store, acme, c.RetryFrom(c.now()))
	store.Reset()
	got = nil
	if err := c.CaptureRecent(ctx, acme, c.RetryFrom(c.now()), testDay, nil, func(r DayResult) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	// The listings of the days and of the indexes show the day captured, of its latest
	// sealed revision, without failure: no read, no write.
	if counts := store.Counts(); len(got) != 0 || counts.Requests() != days+1 || counts["Create"] != 0 {
		t.Fatalf("second CaptureRecent = %+v (%v), want the ledger's listing of days (%d requests), one of indexes and nothing more", got, counts, days)
	}
	// Globex has no record that day: no index.
	if res, err := c.CaptureDay(ctx, globex, testDay); err != nil || res.Revision != 0 {
		t.Fatalf("Globex's empty day: %+v, %v; want no index", res, err)
	}
}

// racingStore creates other bytes under the first index key it is asked to create, just
// before the create: another capture that appended the same revision first.
type racingStore struct {
	archiver.Store
	done atomic.Bool
}

func (s *racingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.Contains(key, "/index/") && s.done.CompareAndSwap(false, true) {
		other := []byte("{}\n")
		if err := s.Store.Create(ctx, key, strings.NewReader(string(other)), int64(len(other)), sha256.Sum256(other), opt); err != nil {
			return err
		}
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestCaptureLosesRace leaves the revision another capture appended first in place, and
// does not fail.
func TestCaptureLosesRace(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a"}}})
	c := newCapturer(t, &racingStore{Store: fs}, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
	res, err := c.CaptureDay(context.Background(), acme, testDay)
	if err != nil || res.Revision != 0 {
		t.Fatalf("capture that lost the race: %+v, %v; want no error and no revision of its own", res, err)
	}
	if got := string(readObject(t, fs, IndexKey(acme, testDay, 1, 1, false))); got != "{}\n" {
		t.Fatalf("revision 1 = %q, want the other capture's", got)
	}
	reliability.Record(t, "crash", "two captures append the same attachment index revision", reliability.Kept,
		"create-only: the first stands, the other leaves it and the next run starts from it")
}

// TestCaptureRecentCostsListings: the retry pass over an organization whose days in the
// window are all captured without failure costs two listings, whatever the number of
// days (counted: with every day captured again, as before the keys said the sealed
// revision and failures, 2 + 4 per day, 22 here); Globex's days without records cost a
// manifest read each, and no capture.
func TestCaptureRecentCostsListings(t *testing.T) { forLayouts(t, testCaptureRecentCostsListings) }

func testCaptureRecentCostsListings(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	var days []archiver.Day
	for d := testDay; len(days) < 5; d = d.Next() {
		days = append(days, d)
	}
	fs := sealDays(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a"}}}, days...)
	store := storetest.NewCounting(fs)
	last := days[len(days)-1]
	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), newKey(t), last.End().Add(time.Hour))
	ctx := context.Background()
	for _, d := range days {
		if res, err := c.CaptureDay(ctx, acme, d); err != nil || res.Revision != 1 || res.Captured != 1 {
			t.Fatalf("capture of %s: %+v, %v", d, res, err)
		}
	}
	listing := daysListing(t, store, acme, days[0])
	store.Reset()
	var got []DayResult
	if err := c.CaptureRecent(ctx, acme, days[0], last, nil, func(r DayResult) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if counts := store.Counts(); len(got) != 0 || counts.Requests() != listing+1 {
		t.Fatalf("retry pass over %d captured days: %d captured again, %v; want the ledger's listing of days (%d requests) and one of indexes",
			len(days), len(got), counts, listing)
	}
	reliability.Record(t, "operations", "attachment retry pass over days all captured", reliability.Kept,
		"two listings per organization whatever the days in attachments.retryFor (was 2 + 4 requests per day)")

	// Globex's days hold no record of its own: one manifest read each, nothing captured.
	store.Reset()
	if err := c.CaptureRecent(ctx, globex, days[0], last, nil, func(r DayResult) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if counts := store.Counts(); len(got) != 0 || counts["Open"] != len(days) || counts["Create"] != 0 {
		t.Fatalf("retry pass over Globex's empty days: %d captured, %v; want one read per day", len(got), counts)
	}
}

// daysListing is what the ledger's listing of org's days from `from` costs in requests
// (one in layout 2; layout 3 lists its day keys and its late commits).
func daysListing(t *testing.T, store *storetest.Counting, org string, from archiver.Day) int {
	t.Helper()
	store.Reset()
	if err := (ledger.Ledger{Store: store}).ListDays(context.Background(), org, from, func(ledger.DayKeys) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return store.Counts().Requests()
}
