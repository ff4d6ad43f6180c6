package verify

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// archive is a folder store with the sample event log sealed on several days.
type archive struct {
	store    archiver.Store
	root     string
	dir      *model.Directory
	dirBytes []byte
	src      archiver.Source
	key      ed25519.PrivateKey
	days     []archiver.Day // sealed
	next     archiver.Day   // the next day sealNext seals
	logDir   string         // the event log
	layout   int            // the layout the writer commits in (Options.Layout; 0: layout 2, which these fixtures were written for, not the library's default 3)
}

// newArchive seals the sample partition (copied to each day) on n days from 2026-11-01.
func newArchive(t testing.TB, n int) *archive {
	t.Helper()
	root := t.TempDir()
	return sealDays(t, newFSStore(t, root), root, n, n)
}

// fsRoots remembers the folder of each folder store made by newFSStore.
var fsRoots sync.Map

func newFSStore(t testing.TB, root string) archiver.Store {
	t.Helper()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fsRoots.Store(store, root)
	return store
}

// rootOf is the folder of a's store.
func rootOf(a *archive) string {
	r, _ := fsRoots.Load(a.store)
	return r.(string)
}

// sealDays makes an event log of total days from 2026-11-01 and seals the first n.
func sealDays(t testing.TB, store archiver.Store, root string, total, n int) *archive {
	t.Helper()
	return sealDaysFrom(t, store, root, "2026-11-01", total, n, nil)
}

// sealDaysFrom is sealDays from the day from (from 2026-12-01 on, Umbrella archives too:
// its days are empty).
// edit, when not nil, changes each day's copy of the partition (folder dir).
func sealDaysFrom(t testing.TB, store archiver.Store, root, from string, total, n int, edit func(day archiver.Day, dir string)) *archive {
	t.Helper()
	logDir := t.TempDir()
	first, _ := archiver.ParseDay(from)
	for d, i := first, 0; i < total; d, i = d.Next(), i+1 {
		if err := os.CopyFS(filepath.Join(logDir, d.String()), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(d, filepath.Join(logDir, d.String()))
		}
	}
	dirBytes, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	a := &archive{store: store, root: root, dir: dir, dirBytes: dirBytes, src: src, key: key, next: first, logDir: logDir}
	for range n {
		a.sealNext(t)
	}
	return a
}

// sealNext seals the next day of the event log.
func (a *archive) sealNext(t testing.TB) {
	t.Helper()
	day := a.next
	s := &archiver.Sealer{Source: a.src, Store: a.store, Chain: ledger.Ledger{Store: a.store}, Options: archiver.Options{
		Now: func() time.Time { return day.End().Add(30 * time.Minute) }, TempDir: t.TempDir(),
		SigningKey: a.key, Logger: slog.New(slog.DiscardHandler), Layout: cmp.Or(a.layout, archiver.Layout2)}}
	res, err := s.Seal(context.Background(), day, a.dirBytes, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Orgs {
		if o.Err != nil {
			t.Fatalf("seal %s %s: %v", day, o.Org, o.Err)
		}
	}
	a.days = append(a.days, day)
	a.next = day.Next()
}

func (a *archive) pub() ed25519.PublicKey { return a.key.Public().(ed25519.PublicKey) }

// countingStore counts the requests made of a Store: objects opened (by prefix of their
// key) and listings with the keys they returned.
type countingStore struct {
	archiver.Store
	mu     sync.Mutex
	opens  int
	lists  int
	listed int
	opened map[string]int // by the key's first two path elements ("orgs/<org>", "accounting/<day>")
	keys   map[string]int // by key
}

// byKey is how many times key was opened.
func (c *countingStore) byKey(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[key]
}

func count(s archiver.Store) *countingStore {
	return &countingStore{Store: s, opened: map[string]int{}, keys: map[string]int{}}
}

func (c *countingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	c.mu.Lock()
	c.opens++
	parts := strings.SplitN(key, "/", 3)
	c.opened[strings.Join(parts[:min(2, len(parts))], "/")]++
	c.keys[key]++
	c.mu.Unlock()
	return c.Store.Open(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.List(ctx, prefix, func(key string) error {
		c.mu.Lock()
		c.listed++
		c.mu.Unlock()
		return fn(key)
	})
}

// ListAfter counts a listing that starts part-way as one listing, as the folder store and
// S3 answer it (archiver.AfterLister).
func (c *countingStore) ListAfter(ctx context.Context, prefix, startAfter string, fn func(string) error) error {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return archiver.ListAfter(ctx, c.Store, prefix, startAfter, func(key string) error {
		c.mu.Lock()
		c.listed++
		c.mu.Unlock()
		return fn(key)
	})
}

func (c *countingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	return c.Store.Create(ctx, key, body, size, sum, opt)
}

// requests is what a verification asked of the store.
type requests struct{ opens, lists, listed int }

func (c *countingStore) requests() requests {
	c.mu.Lock()
	defer c.mu.Unlock()
	return requests{c.opens, c.lists, c.listed}
}
