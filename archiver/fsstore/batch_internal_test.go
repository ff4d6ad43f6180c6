//go:build linux

package fsstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// traced is a new Store in a temporary folder whose batches' steps are recorded.
func traced(t *testing.T) (*Store, *[]string) {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var mu sync.Mutex
	var steps []string
	s.trace = func(op, name string) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, strings.TrimSpace(op+" "+name))
	}
	return s, &steps
}

func batchCreate(t *testing.T, s *Store, b archiver.Batch, key, body string) error {
	t.Helper()
	return s.Create(t.Context(), key, strings.NewReader(body), int64(len(body)), sha256.Sum256([]byte(body)), archiver.CreateOptions{Batch: b})
}

// tempFiles lists the temporary files left below the store's root.
func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(s.Dir(), func(p string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(s.Dir(), p); err == nil && strings.HasPrefix(d.Name(), tempPrefix) && !IsOwnerFile(filepath.ToSlash(rel)) {
			left = append(left, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// TestBatchSyncsOnceInOrder: objects created into a batch are invisible until Flush, which
// makes them durable with two syncs of the file system however many there are, in the
// order that no crash can break: every file's bytes synced before any is linked to its
// key, the names synced after the last link. A manifest created afterwards in a flushed
// folder then costs its file and that folder, not the folders above.
func TestBatchSyncsOnceInOrder(t *testing.T) {
	s, steps := traced(t)
	ctx := t.Context()
	b := s.NewBatch()
	var keys []string
	for i := range 40 {
		key := "orgs/o" + string(rune('a'+i%20)) + "/d/2026/11/22.events-" + string(rune('a'+i)) + ".jsonl.gz"
		keys = append(keys, key)
		if err := batchCreate(t, s, b, key, "export "+key); err != nil {
			t.Fatal(err)
		}
	}
	// A streamed object (the export as a seal writes it) joins the batch the same way.
	so, err := s.CreateStream(ctx, "orgs/stream/d/2026/11")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("streamed export")
	so.Write(body)
	streamed := "orgs/stream/d/2026/11/22.events-x.jsonl.gz"
	if _, err := so.Commit(ctx, streamed, int64(len(body)), sha256.Sum256(body), archiver.CreateOptions{Batch: b}); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, streamed)

	syncs := s.Syncs()
	for _, k := range keys {
		if _, err := s.Open(ctx, k); !errors.Is(err, archiver.ErrNotFound) {
			t.Fatalf("%s before the flush: %v, want not found", k, err)
		}
	}
	var listed []string
	if err := s.List(ctx, "orgs/", func(k string) error { listed = append(listed, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 {
		t.Fatalf("listed before the flush: %v", listed)
	}
	failed, err := b.Flush(ctx)
	if err != nil || len(failed) != 0 {
		t.Fatalf("flush: %v %v", failed, err)
	}
	if got := s.Syncs() - syncs; got != 2 {
		t.Errorf("flush of %d objects: %d syncs, want 2", len(keys), got)
	}
	for _, k := range keys {
		rc, err := s.Open(ctx, k)
		if err != nil {
			t.Fatalf("%s after the flush: %v", k, err)
		}
		rc.Close()
	}
	if left := tempFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The order: writes, a sync, links, a sync.
	st := *steps
	first := slices.Index(st, "syncfs")
	last := len(st) - 1
	if first < 0 || st[last] != "syncfs" || slices.Index(st[first+1:], "syncfs") != last-first-1 {
		t.Fatalf("steps %v: want the writes, one syncfs, the links, one syncfs", st)
	}
	for i, step := range st {
		op, key, _ := strings.Cut(step, " ")
		switch {
		case op == "write" && i > first:
			t.Errorf("step %d: %s after the first sync", i, step)
		case op == "link" && (i < first || !slices.Contains(st[:first], "write "+key)):
			t.Errorf("step %d: %s before its bytes were synced", i, step)
		}
	}
	if n := strings.Count(strings.Join(st, "\n"), "link "); n != len(keys) {
		t.Errorf("%d links, want %d", n, len(keys))
	}

	// The day's manifest next to its export: the file and its folder only.
	syncs = s.Syncs()
	m := []byte("manifest")
	if err := s.Create(ctx, "orgs/oa/d/2026/11/22.r0001.json", bytes.NewReader(m), int64(len(m)), sha256.Sum256(m), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Syncs() - syncs; got != 2 {
		t.Errorf("a manifest in a flushed folder: %d fsyncs, want 2", got)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "folder store: a seal's exports synced once, in order", reliability.Kept,
		"written unsynced, then one syncfs, then linked to their keys, then one syncfs: 2 syncs for a day's exports however many, and no crash can leave a key naming bytes not all written; invisible until then")
}

// TestBatchConflicts: a key another writer fills between the batched create and the flush
// fails alone, as ErrConflict when its bytes differ, and succeeds when they are the same;
// the rest of the batch is created and no temporary file is left. A create after the flush,
// or with another store's batch, is refused and leaves nothing.
func TestBatchConflicts(t *testing.T) {
	s, _ := traced(t)
	ctx := t.Context()
	b := s.NewBatch()
	for _, k := range []string{"a/x", "a/same", "a/other"} {
		if err := batchCreate(t, s, b, k, "batched "+k); err != nil {
			t.Fatal(err)
		}
	}
	// Another writer, meanwhile: the same bytes under one key, other bytes under another.
	for k, body := range map[string]string{"a/same": "batched a/same", "a/other": "someone else's"} {
		if err := s.Create(ctx, k, strings.NewReader(body), int64(len(body)), sha256.Sum256([]byte(body)), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Already there with other bytes: refused at once, as without a batch.
	if err := batchCreate(t, s, b, "a/other", "a third"); !errors.Is(err, archiver.ErrConflict) {
		t.Errorf("batched create over other bytes: %v, want ErrConflict", err)
	}
	failed, err := b.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !errors.Is(failed["a/other"], archiver.ErrConflict) {
		t.Errorf("failed %v, want only a/other, with ErrConflict", failed)
	}
	for k, want := range map[string]string{"a/x": "batched a/x", "a/same": "batched a/same", "a/other": "someone else's"} {
		rc, err := s.Open(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(rc)
		if got != want {
			t.Errorf("%s holds %q, want %q", k, got, want)
		}
	}
	if err := batchCreate(t, s, b, "a/late", "late"); err == nil {
		t.Error("a create into a flushed batch succeeded")
	}
	other, _ := traced(t)
	if err := batchCreate(t, s, other.NewBatch(), "a/foreign", "foreign"); err == nil {
		t.Error("a create with another store's batch succeeded")
	}
	if left := tempFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "late")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a/late: %v, want no file", err)
	}
}

func readAll(rc interface {
	Read([]byte) (int, error)
	Close() error
}) (string, error) {
	defer rc.Close()
	var buf bytes.Buffer
	_, err := buf.ReadFrom(rc)
	return buf.String(), err
}

// TestBatchAbortAndRerun: a batch aborted (its seal failed before the flush) leaves no
// temporary file and nothing visible. A batch whose creates all found their objects
// already there (a rerun after a crash between the links and the last sync) still syncs
// once, so their names are durable before a manifest names them.
func TestBatchAbortAndRerun(t *testing.T) {
	s, _ := traced(t)
	ctx := t.Context()
	b := s.NewBatch()
	for _, k := range []string{"a/1", "b/c/2"} {
		if err := batchCreate(t, s, b, k, "body of "+k); err != nil {
			t.Fatal(err)
		}
	}
	if len(tempFiles(t, s)) != 2 {
		t.Fatalf("temporary files before the abort: %v, want 2", tempFiles(t, s))
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, s); len(left) != 0 {
		t.Errorf("temporary files after the abort: %v", left)
	}
	for _, k := range []string{"a/1", "b/c/2"} {
		if _, err := s.Open(ctx, k); !errors.Is(err, archiver.ErrNotFound) {
			t.Errorf("%s after the abort: %v, want not found", k, err)
		}
	}
	if failed, err := b.Flush(ctx); err != nil || len(failed) != 0 {
		t.Errorf("flush after the abort: %v %v, want nothing", failed, err)
	}

	// A crashed run linked a/1; the rerun's batch finds it.
	if err := s.Create(ctx, "a/1", strings.NewReader("body of a/1"), 11, sha256.Sum256([]byte("body of a/1")), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rerun := s.NewBatch()
	if err := batchCreate(t, s, rerun, "a/1", "body of a/1"); err != nil {
		t.Fatal(err)
	}
	syncs := s.Syncs()
	if _, err := rerun.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Syncs() - syncs; got != 1 {
		t.Errorf("flush of a batch that found its object: %d syncs, want 1", got)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "folder store: a seal that fails before its batch is flushed", reliability.Kept,
		"the batch is aborted: its temporary files are removed and nothing becomes visible; a rerun whose objects a crashed run had linked still syncs their names before its manifests")
}

// TestBatchSyncsEveryFileSystem: a syncfs syncs one file system. With another disk mounted
// inside the store (here orgs/big, a stand-in device), a batch's syncs must cover it too,
// before the links and after them: syncing the root's alone left the mounted disk's files
// unsynced while their keys were linked, so a crash could leave a key naming bytes never
// written. A rerun that finds its objects there syncs both too.
func TestBatchSyncsEveryFileSystem(t *testing.T) {
	s, steps := traced(t)
	ctx := t.Context()
	const mounted = "orgs/big"
	s.device = func(root *os.Root, dir string) (uint64, error) {
		if d := filepath.ToSlash(dir); d == mounted || strings.HasPrefix(d, mounted+"/") {
			return 1<<63 + 7, nil
		}
		return deviceOf(root, dir)
	}
	keys := []string{
		"orgs/oa/d/2026/11/22.events-a.jsonl.gz",
		mounted + "/ob/d/2026/11/22.events-b.jsonl.gz",
		mounted + "/oc/d/2026/11/22.events-c.jsonl.gz",
	}
	flush := func() []string {
		t.Helper()
		*steps = nil
		b := s.NewBatch()
		for _, k := range keys {
			if err := batchCreate(t, s, b, k, "export "+k); err != nil {
				t.Fatal(err)
			}
		}
		failed, err := b.Flush(ctx)
		if err != nil || len(failed) != 0 {
			t.Fatalf("flush: %v %v", failed, err)
		}
		return *steps
	}
	syncs := s.Syncs()
	st := flush()
	if got := s.Syncs() - syncs; got != 4 {
		t.Errorf("flush over two file systems: %d syncs, want 4 (%v)", got, st)
	}
	// Both file systems synced before the first link, and both after the last.
	firstLink := slices.IndexFunc(st, func(s string) bool { return strings.HasPrefix(s, "link ") })
	lastLink := -1
	for i, step := range st {
		if strings.HasPrefix(step, "link ") {
			lastLink = i
		}
	}
	// The mounted disk is synced through one of its folders, whichever came first.
	onMounted := func(step string) bool { return strings.HasPrefix(step, "syncfs "+mounted+"/") }
	isRoot := func(step string) bool { return step == "syncfs" }
	for _, want := range []func(string) bool{isRoot, onMounted} {
		if firstLink < 0 || !slices.ContainsFunc(st[:firstLink], want) {
			t.Errorf("steps %v: a file system not synced before the first link", st)
		}
		if !slices.ContainsFunc(st[lastLink+1:], want) {
			t.Errorf("steps %v: a file system not synced after the last link", st)
		}
	}

	// The rerun finds every object there: the names' sync covers both file systems too.
	st = flush()
	if len(st) != 2 || !isRoot(st[0]) || !onMounted(st[1]) {
		t.Errorf("rerun's flush: steps %v, want a syncfs of each file system", st)
	}
	reliability.Record(t, "operations", "folder store: another disk mounted inside the store (orgs/ on a bigger volume)", reliability.Kept,
		"a batch's syncs cover every file system its objects' folders are on, before the links and after; before, syncfs of the store's root left the mounted disk's exports unsynced while their keys were linked")
}
