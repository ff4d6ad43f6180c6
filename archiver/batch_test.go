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
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/reliability"
)

// racingStore is a folder store on which another writer puts other bytes under the first
// export key a seal commits into its batch, before the batch is flushed.
type racingStore struct {
	*fsstore.Store
	mu  sync.Mutex
	key string // the export raced
}

func (r *racingStore) CreateStream(ctx context.Context, dir string) (archiver.StreamObject, error) {
	so, err := r.Store.CreateStream(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &racingObject{StreamObject: so, r: r}, nil
}

type racingObject struct {
	archiver.StreamObject
	r *racingStore
}

func (o *racingObject) Commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	v, err := o.StreamObject.Commit(ctx, key, size, sum, opt)
	if err != nil || opt.Batch == nil {
		return v, err
	}
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	if o.r.key == "" {
		o.r.key = key
		other := []byte("another writer's bytes")
		if err := o.r.Store.Create(ctx, key, bytes.NewReader(other), int64(len(other)), sha256.Sum256(other), archiver.CreateOptions{}); err != nil {
			return "", err
		}
	}
	return v, nil
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
	r := &racingStore{Store: f.store}
	s := &archiver.Sealer{Source: f.src, Store: r, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: 64 << 20, Now: fixedClock, Generator: "chatvault test",
	}}
	res, err := s.Seal(context.Background(), day, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.key == "" {
		t.Fatal("no export was committed into a batch: the folder store no longer batches exports")
	}
	org := strings.Split(r.key, "/")[1]
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

// cancellingStore cancels the seal once its first export is committed into the batch: a
// seal stopped (SIGTERM) after it has staged objects and before its flush.
type cancellingStore struct {
	*fsstore.Store
	cancel context.CancelFunc
}

func (c *cancellingStore) CreateStream(ctx context.Context, dir string) (archiver.StreamObject, error) {
	so, err := c.Store.CreateStream(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &cancellingObject{StreamObject: so, cancel: c.cancel}, nil
}

type cancellingObject struct {
	archiver.StreamObject
	cancel context.CancelFunc
}

func (o *cancellingObject) Commit(ctx context.Context, key string, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) (string, error) {
	v, err := o.StreamObject.Commit(ctx, key, size, sum, opt)
	if opt.Batch != nil {
		o.cancel()
	}
	return v, err
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
	s := &archiver.Sealer{Source: f.src, Store: &cancellingStore{Store: f.store, cancel: cancel}, Options: archiver.Options{
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
