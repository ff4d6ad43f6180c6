package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/reliability"
)

// batchedStore is a folder store that calls batched after each export a seal commits
// into its batch, before the batch is flushed: for what another writer, or a stop, does
// in between.
type batchedStore struct {
	*fsstore.Store
	mu      sync.Mutex
	batched func(ctx context.Context, key string) error
}

func (b *batchedStore) CreateStream(ctx context.Context, dir string) (archiver.StreamObject, error) {
	so, err := b.Store.CreateStream(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &batchedObject{StreamObject: so, s: b}, nil
}

type batchedObject struct {
	archiver.StreamObject
	s *batchedStore
}

func (o *batchedObject) Commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	v, err := o.StreamObject.Commit(ctx, key, size, sum, opt)
	if err != nil || opt.Batch == nil {
		return v, err
	}
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	return v, o.s.batched(ctx, key)
}

// TestSealFlushFailureFailsItsOrg: an export the batch's flush cannot create (another
// writer put other bytes under its key meanwhile) fails its organization, whose manifest
// is not written: no manifest names an object the store does not hold. The others commit.
func TestSealFlushFailureFailsItsOrg(t *testing.T) {
	logDir := t.TempDir()
	day := mustDay("2026-11-22")
	if _, err := synth.Generate(context.Background(), logDir, synth.Options{Day: day, Events: 3_000, Orgs: 6, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	raced := "" // the first export batched, under which another writer puts other bytes
	r := &batchedStore{Store: f.store, batched: func(ctx context.Context, key string) error {
		if raced != "" {
			return nil
		}
		raced = key
		other := []byte("another writer's bytes")
		return f.store.Create(ctx, key, bytes.NewReader(other), int64(len(other)), sha256.Sum256(other), archiver.CreateOptions{})
	}}
	s := &archiver.Sealer{Source: f.src, Store: r, Chain: ledger.Ledger{Store: r}, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: 64 << 20, Now: fixedClock, Generator: "chatvault test",
	}}
	res, err := s.Seal(context.Background(), day, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if raced == "" {
		t.Fatal("no export was committed into a batch: the folder store no longer batches exports")
	}
	org := strings.Split(raced, "/")[1]
	committed := 0
	for _, o := range res.Orgs {
		switch {
		case o.Org == org:
			if !errors.Is(o.Err, archiver.ErrConflict) {
				t.Errorf("org %s: %v, want its failure to wrap ErrConflict", o.Org, o.Err)
			}
		case o.Err != nil:
			t.Errorf("org %s failed: %v", o.Org, o.Err)
		default:
			committed++
		}
	}
	if committed == 0 {
		t.Fatal("no other organization committed")
	}
	var manifests []string
	if err := f.store.List(context.Background(), "orgs/"+org+"/", func(k string) error {
		if strings.Contains(k, ".r0") {
			manifests = append(manifests, k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(manifests) != 0 {
		t.Errorf("the failed organization has manifests %v", manifests)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "seal: an export its batch could not create", reliability.Kept,
		"another writer's bytes under an export's key before the flush: that organization fails (ErrConflict) with no manifest, the others commit")
}

// TestSealStoppedBeforeFlushLeavesNoTemps: a seal stopped after some exports went into its
// batch, before the flush, leaves none of their temporary files in the store, and no
// export is visible.
func TestSealStoppedBeforeFlushLeavesNoTemps(t *testing.T) {
	logDir := t.TempDir()
	day := mustDay("2026-11-22")
	if _, err := synth.Generate(context.Background(), logDir, synth.Options{Day: day, Events: 3_000, Orgs: 6, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Stopped once the first export is in the batch.
	stop := &batchedStore{Store: f.store, batched: func(context.Context, string) error { cancel(); return nil }}
	s := &archiver.Sealer{Source: f.src, Store: stop, Chain: ledger.Ledger{Store: stop}, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: 64 << 20, Now: fixedClock, Generator: "chatvault test", Workers: 1,
	}}
	if _, err := s.Seal(ctx, day, f.directory, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped seal: %v, want it to end with context.Canceled", err)
	}
	var temps, exports []string
	if err := filepath.WalkDir(f.storeDir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case strings.HasPrefix(d.Name(), ".tmp-"):
			temps = append(temps, p)
		case strings.Contains(d.Name(), ".events-"):
			exports = append(exports, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(temps) != 0 || len(exports) != 0 {
		t.Fatalf("the stopped seal left temporary files %v and exports %v", temps, exports)
	}
	reliability.Record(t, "operations", "seal stopped (SIGTERM) after exports went into its batch", reliability.Kept,
		"the merge stops at the next organization, the batch is aborted: no temporary file and no export left in the store")
}
