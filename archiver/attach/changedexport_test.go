package attach

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/exporttest"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// swapped is a store whose object at key reads as body instead: an export changed in the
// store by someone who holds no signing key.
type swapped struct {
	archiver.Store
	key  string
	body []byte
}

func (s swapped) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if key == s.key {
		return io.NopCloser(bytes.NewReader(s.body)), nil
	}
	return s.Store.Open(ctx, key)
}

// TestCaptureOfAChangedExport: the references a capture fetches come from the sealed
// export checked against its manifest. Before, an export changed in the store (a link
// added to a record) was read unchecked: the capture fetched the planted link and signed
// an index naming it, as if the sealed record had linked it.
func TestCaptureOfAChangedExport(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a"}}})
	ctx := context.Background()
	m, err := ledger.Ledger{Store: fs}.Latest(ctx, acme, testDay)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := archiver.ReadAll(ctx, fs, m.Data.Key)
	if err != nil {
		t.Fatal(err)
	}
	changed := exporttest.Regzip(t, stored, func(plain []byte) []byte {
		planted := bytes.Replace(plain, []byte(srv.URL+"/good/a"), []byte(srv.URL+"/good/planted"), 1)
		if bytes.Equal(planted, plain) {
			t.Fatal("the export holds no link to change")
		}
		return planted
	})
	store := swapped{Store: fs, key: m.Data.Key, body: changed}

	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
	_, err = c.CaptureDay(ctx, acme, testDay)
	var mm *archiver.RecordsMismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), m.Data.JSONLSHA256) {
		t.Fatalf("CaptureDay of a changed export: %v; want the records' mismatch naming the manifest's SHA-256 %s", err, m.Data.JSONLSHA256)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("%d requests made for a changed export's links", n)
	}
	if ix, err := LatestIndex(ctx, fs, acme, testDay, c.TrustedKeys); err != nil || ix != nil {
		t.Fatalf("an index was written for the changed export: %v, %v", ix, err)
	}
	reliability.Record(t, "security", "attachment capture of a sealed export changed in the store (a link planted in a record)", reliability.CleanFailure,
		"the capture fails naming the export and the SHA-256 its manifest gives, fetching nothing and signing no index; before, the planted link was fetched and named by a signed attachment index")
}
