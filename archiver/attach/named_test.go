package attach

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOpenFileCostsNoHistory: every day whose index names a file gets its named record,
// also a day that got the file from the URL record without fetching it; opening the
// file then costs a listing of those records, a listing and a read of one day's index
// and the file's open, whatever the organization's days; a file the organization's
// indexes do not name is one listing and ErrNotNamed; an index signed by a key not
// trusted is ErrInvalidIndex.
func TestOpenFileCostsNoHistory(t *testing.T) { forLayouts(t, testOpenFileCostsNoHistory) }

func testOpenFileCostsNoHistory(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	var days []archiver.Day
	for d := testDay; len(days) < 5; d = d.Next() {
		days = append(days, d)
	}
	fs := sealDays(t, []msg{
		{"m-1", "u-ada", []string{srv.URL + "/good/a", srv.URL + "/missing"}},
		{"m-2", "u-hank", []string{srv.URL + "/good/g"}},
	}, days...)
	store := storetest.NewCounting(fs)
	key := newKey(t)
	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), key, days[len(days)-1].End().Add(time.Hour))
	ctx := context.Background()
	for _, d := range days {
		for _, org := range []string{acme, globex} {
			if _, err := c.CaptureDay(ctx, org, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := srv.requests.Load(); n != 2+1*int64(len(days)) {
		// /good/a and /good/g once; /missing on every day (a failure is retried).
		t.Fatalf("%d fetches", n)
	}
	a := sha256.Sum256([]byte("contents of a"))
	g := sha256.Sum256([]byte("contents of g"))
	var named []string
	if err := fs.List(ctx, namedPrefix(acme, hexOf(a)), func(k string) error { named = append(named, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(named) != len(days) || named[0] != namedKey(acme, hexOf(a), days[0]) {
		t.Fatalf("acme's named records of a: %v", named)
	}

	r := Reader{Store: store, TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	store.Reset()
	e, rc, err := r.OpenFile(ctx, acme, a)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	counts := store.Counts()
	if string(b) != "contents of a" || e.ContentType != "application/pdf" || e.Size != int64(len(b)) || e.SHA256 != hexOf(a) {
		t.Fatalf("opened %+v: %q", e, b)
	}
	if counts.Requests() != 4 {
		t.Fatalf("opening a file named on %d days: %v, want 4 requests (list records, list and read an index, open)", len(days), counts)
	}
	reliability.Record(t, "operations", "an organization's captured file is asked for through the API", reliability.Kept,
		"4 store requests (its named records, one day's index, the file), whatever the organization's days")

	store.Reset()
	if _, _, err := r.OpenFile(ctx, acme, g); !errors.Is(err, ErrNotNamed) || store.Counts().Requests() != 1 {
		t.Fatalf("globex's file for acme: %v, %v", err, store.Counts())
	}
	// verify finds every file's named records; a missing one is a warning (the API would
	// not find the file for that day), not a problem (a capture by an earlier build).
	var rep findings
	if _, err := VerifyOrg(ctx, fs, acme, nil, &rep); err != nil || len(rep.problems) != 0 || len(rep.warnings) != 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	hidden := alteringStore{Store: fs, key: namedKey(acme, hexOf(a), days[2])}
	rep = findings{}
	if _, err := VerifyOrg(ctx, hidden, acme, nil, &rep); err != nil || len(rep.problems) != 0 || len(rep.warnings) != 1 ||
		!strings.Contains(rep.warnings[0], hidden.key) {
		t.Fatalf("verify without a named record: %v %+v", err, rep)
	}
	other := newKey(t).Public().(ed25519.PublicKey)
	if _, _, err := (Reader{Store: store, TrustedKeys: []ed25519.PublicKey{other}}).OpenFile(ctx, acme, a); !errors.Is(err, ErrInvalidIndex) {
		t.Fatalf("an index signed by a key not trusted: %v", err)
	}
}

func hexOf(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }
