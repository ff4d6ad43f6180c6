package verifyloop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
)

// TestHistorySkipsCheckpoints: verify's checkpoints share the verifications/ prefix with
// the loop's records; History reads the records only, instead of failing on a checkpoint
// as on a damaged record.
func TestHistorySkipsCheckpoints(t *testing.T) {
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := []byte(`{"version":1,"kind":"full"}` + "\n")
	if err := store.Create(context.Background(), "verifications/checkpoints/20261201T000000.000000000Z-00000000.json",
		bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	recs, err := History(context.Background(), store, archiver.Day{}, nil)
	if err != nil || len(recs) != 0 {
		t.Fatalf("History = %v, %v; want no record and no error", recs, err)
	}
}
