package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
	"github.com/google/uuid"
)

// overlapStore holds the first organization's export upload until the store sees a call
// for another organization (its head lookup, its export), or until patience runs out.
type overlapStore struct {
	archiver.Store
	patience time.Duration
	mu       sync.Mutex
	held     string        // "orgs/<id>/" of the upload held; "" until one is
	other    chan struct{} // closed at the first call for another organization after that
	overlap  bool          // whether that call came while the upload was held
}

func (s *overlapStore) saw(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != "" && strings.HasPrefix(key, "orgs/") && !strings.HasPrefix(key, s.held) {
		select {
		case <-s.other:
		default:
			close(s.other)
		}
	}
}

func (s *overlapStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	s.saw(key)
	s.mu.Lock()
	hold := s.held == "" && strings.HasPrefix(key, "orgs/") && strings.Contains(key, "events-")
	if hold {
		parts := strings.SplitN(key, "/", 3)
		s.held = parts[0] + "/" + parts[1] + "/"
	}
	s.mu.Unlock()
	if hold {
		select {
		case <-s.other:
			s.overlap = true
		case <-time.After(s.patience):
		}
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *overlapStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.saw(key)
	return s.Store.Open(ctx, key)
}

func (s *overlapStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	s.saw(prefix)
	return s.Store.List(ctx, prefix, fn)
}

// TestStoringHoldsNoWorker: with one worker, an organization whose export is being
// uploaded (a round trip to S3, fsyncs in a folder) no longer holds the worker, so the
// next organization is compressed and looked up meanwhile. The first upload is held until
// the store sees the next organization; when the worker stays held, nothing comes and the
// upload goes on after 10 s, failing the test.
func TestStoringHoldsNoWorker(t *testing.T) {
	f := newFixture(t, sampleLog)
	s := &overlapStore{Store: f.store, patience: 10 * time.Second, other: make(chan struct{})}
	sealer := &archiver.Sealer{Source: f.src, Store: s, Chain: ledger.Ledger{Store: s}, Options: archiver.Options{
		Workers: 1, Now: fixedClock, Generator: "chatvault test", TempDir: t.TempDir()}}
	res, err := sealer.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if failed := res.Failed(); len(failed) > 0 {
		t.Fatalf("organizations failed: %v", failed[0].Err)
	}
	if s.held == "" {
		t.Fatal("no export was uploaded")
	}
	if !s.overlap {
		t.Fatalf("while %s's export was uploaded, the store saw no other organization: the upload held the only worker", s.held)
	}
	reliability.Record(t, "operations", "a slow store (S3 round trips, fsyncs) under a seal with one worker", reliability.Kept,
		"an organization's upload no longer holds a worker: the next one is compressed meanwhile; every organization is sealed")
}

// runsAtCommit records, at each manifest's create (layout 3: <day>.r<revision>.json), the
// sort runs left in the seal's folder.
type runsAtCommit struct {
	archiver.Store
	temp string
	mu   sync.Mutex
	left []string
}

func (s *runsAtCommit) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, "orgs/") && strings.HasPrefix(path.Ext(strings.TrimSuffix(key, ".json")), ".r") {
		runs, err := filepath.Glob(filepath.Join(s.temp, "*", "chatvault-run-*"))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.left = append(s.left, runs...)
		s.mu.Unlock()
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestRunsRemovedBeforeCommits: a day that spills is merged from its sort runs, which are
// removed once merged, while the organizations are still compressed, not after the
// commits, where dropping their pages added to the run's time.
func TestRunsRemovedBeforeCommits(t *testing.T) {
	f := newFixture(t, generated(t, 20_000, 0))
	temp := t.TempDir()
	s := &runsAtCommit{Store: f.store, temp: temp}
	sealer := &archiver.Sealer{Source: f.src, Store: s, Chain: ledger.Ledger{Store: s}, Options: archiver.Options{
		Layout: archiver.Layout3, Workers: 2, SortMemory: 4 << 20, Now: fixedClock, Generator: "chatvault test", TempDir: temp}}
	res, err := sealer.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs == 0 {
		t.Fatalf("the day did not spill (%d runs): nothing to check", res.Runs)
	}
	if committed := len(res.Orgs) - len(res.Failed()); committed == 0 {
		t.Fatal("nothing committed")
	}
	if len(s.left) > 0 {
		t.Fatalf("sort runs still on disk at a commit: %v", s.left)
	}
}

// slowExports is a store that takes a while over each export (an fsync, a round trip) and
// records the most exports staged in the seal's folder, waiting to be stored, that it saw.
type slowExports struct {
	archiver.Store
	temp string
	mu   sync.Mutex
	most int
}

func (s *slowExports) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if strings.Contains(path.Base(key), ".events-") {
		staged, err := filepath.Glob(filepath.Join(s.temp, "*", "chatvault-export-*"))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.most = max(s.most, len(staged))
		s.mu.Unlock()
		// The store's latency. Only what the test sees depends on it: the bound holds
		// however long a store takes.
		time.Sleep(time.Millisecond)
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestStoringBounded seals a day of many organizations, most of them without a record
// (an empty export each, compressed in microseconds) into a store that takes a
// millisecond over each export. The organizations waiting for the store must stay
// bounded: one that waits for a place among those storing keeps its worker, so the
// merge starts no more. When the worker was given back first, every organization was
// compressed and staged while a few were stored, each holding a file: a 50,000-organization
// day on disk failed 12,293 of them (too many open files).
func TestStoringBounded(t *testing.T) {
	f := newFixture(t, generated(t, 2_000, 0))
	dir, err := model.DecodeDirectory(bytes.NewReader(f.directory))
	if err != nil {
		t.Fatal(err)
	}
	// Many more organizations, archiving and silent, in the same snapshot.
	for i := range 150 {
		dir.Organizations = append(dir.Organizations, model.Organization{ID: uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i), byte(i >> 8)}).String(),
			Name: fmt.Sprintf("Silent %d", i), Archival: true})
	}
	snapshot, err := json.Marshal(dir)
	if err != nil {
		t.Fatal(err)
	}
	temp := t.TempDir()
	s := &slowExports{Store: f.store, temp: temp}
	const workers = 1
	sealer := &archiver.Sealer{Source: f.src, Store: s, Chain: ledger.Ledger{Store: s}, Options: archiver.Options{
		Workers: workers, Now: fixedClock, Generator: "chatvault test", TempDir: temp}}
	res, err := sealer.Seal(context.Background(), sampleDay, snapshot, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Orgs) < 150 || len(res.Failed()) > 0 {
		t.Fatalf("%d organizations sealed, %d failed", len(res.Orgs), len(res.Failed()))
	}
	// Those storing, one more waiting with its worker, and the worker's next.
	if bound := (archiver.StoreSlots + 2) * workers; s.most > bound {
		t.Fatalf("%d exports staged at once, waiting for the store; want at most %d", s.most, bound)
	}
	reliability.Record(t, "operations", "a day of many organizations into a slow store (fsyncs on disk, S3 round trips)", reliability.Kept,
		"the organizations compressed and waiting for the store stay bounded (an organization waiting keeps its worker): no pile of open files")
}
