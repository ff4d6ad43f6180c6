package archiver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/reliability"
)

// copyCounter is a folder store that counts the bytes of exports handed to Create as a
// body: bytes written once to a staging file and then copied (and hashed again) into the
// store. Its other methods, optional ones included, are the folder store's.
type copyCounter struct {
	*fsstore.Store
	copied atomic.Int64
}

func (c *copyCounter) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.Contains(key, "/events-") {
		body = &countingReader{r: body, n: &c.copied}
	}
	return c.Store.Create(ctx, key, body, size, sum, opt)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestSealWritesExportsOnce seals a generated day into a folder store and counts the
// export bytes copied into it through Create: none. Each export is compressed straight
// into the store's temporary file, so its bytes are written once and hashed once, not
// staged, read back, copied and hashed again.
func TestSealWritesExportsOnce(t *testing.T) {
	logDir := t.TempDir()
	day := mustDay("2026-11-22")
	if _, err := synth.Generate(context.Background(), logDir, synth.Options{Day: day, Events: 3_000, Orgs: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	store := &copyCounter{Store: f.store}
	s := &archiver.Sealer{Source: f.src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: 64 << 20, Now: fixedClock, Generator: "chatvault test",
	}}
	whole := wholeResults(&s.Options) // the whole results: the keys the summaries drop
	res, err := s.Seal(context.Background(), day, f.directory, "")
	whole(res)
	if err != nil {
		t.Fatal(err)
	}
	var exports, size int64
	for _, o := range res.Orgs {
		if o.Err != nil {
			t.Fatalf("org %s failed: %v", o.Org, o.Err)
		}
		if o.Outcome == archiver.OutcomeCommitted {
			exports++
			size += o.Data.Size
		}
	}
	if exports == 0 || size == 0 {
		t.Fatalf("%d exports of %d bytes sealed: the day is not a test", exports, size)
	}
	if n := store.copied.Load(); n != 0 {
		t.Fatalf("%d export bytes copied into the store through Create for %d exports of %d bytes: want 0 (written once, straight into the store)", n, exports, size)
	}
	// The exports the store holds are the ones the manifests name, byte for byte.
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeCommitted {
			continue
		}
		rc, err := f.store.Open(context.Background(), o.Data.Key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != o.Data.Size || hex.EncodeToString(h.Sum(nil)) != o.Data.SHA256 {
			t.Fatalf("%s: %d bytes with SHA-256 %x, manifest says %d and %s", o.Data.Key, n, h.Sum(nil), o.Data.Size, o.Data.SHA256)
		}
	}
	reliability.Record(t, "operations", "seal: export bytes written per organization (folder store)",
		reliability.Kept, "no export bytes staged and copied into the store; the stored exports match their manifests")
}
