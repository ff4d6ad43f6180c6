package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// Run runs the suite. newStore is called once per subtest and must return an empty store
// that belongs to that subtest; it registers its own cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s archiver.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"SameBytesIsNoOp", testSameBytesIsNoOp},
		{"DifferentBytesConflict", testDifferentBytesConflict},
		{"BadInputLeavesNothing", testBadInputLeavesNothing},
		{"FailingBodyLeavesNothing", testFailingBodyLeavesNothing},
		{"CancelledContextLeavesNothing", testCancelledContextLeavesNothing},
		{"InProgressInvisible", testInProgressInvisible},
		{"OpenMissing", testOpenMissing},
		{"ListOrder", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListStops", testListStops},
		{"ListAfter", testListAfter},
		{"ListAfterFallback", testListAfterFallback},
		{"ConcurrentSameBytes", testConcurrentSameBytes},
		{"ConcurrentDifferentBytes", testConcurrentDifferentBytes},
		{"KeysOutsideKeySpace", testKeysOutsideKeySpace},
		{"DeleteOnlyTasks", testDeleteOnlyTasks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func testRoundTrip(t *testing.T, s archiver.Store) {
	tests := []struct {
		key  string
		data []byte
	}{
		{"top", []byte("hello\n")},
		{"orgs/0f6c/days/2026-11-22/r1.jsonl.gz", []byte("{\"a\":1}\n{\"a\":2}\n")},
		{"binary", []byte{0, 1, 2, 0xff, '\n', 0}},
	}
	for _, tt := range tests {
		mustCreate(t, s, tt.key, tt.data)
		if got := mustRead(t, s, tt.key); !bytes.Equal(got, tt.data) {
			t.Errorf("Open(%q) = %q, want %q", tt.key, got, tt.data)
		}
	}
}

func testEmpty(t *testing.T, s archiver.Store) {
	mustCreate(t, s, "empty", nil)
	if got := mustRead(t, s, "empty"); len(got) != 0 {
		t.Errorf("Open(empty) = %d bytes, want 0", len(got))
	}
	// A rerun of an empty object is as idempotent as any other.
	mustCreate(t, s, "empty", []byte{})
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"empty"}) {
		t.Errorf("List = %q, want [empty]", got)
	}
}

// testLarge streams an object bigger than any sensible buffer, so an implementation that
// holds the body in memory or loses a chunk between buffers shows up.
func testLarge(t *testing.T, s archiver.Store) {
	const size = 8 << 20
	ctx := t.Context()
	sum := streamSum(1, size)
	if err := s.Create(ctx, "large", stream(1, size), size, sum, archiver.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	rc, err := s.Open(ctx, "large")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if n != size || [sha256.Size]byte(h.Sum(nil)) != sum {
		t.Errorf("read %d bytes with SHA-256 %x, want %d bytes with %x", n, h.Sum(nil), size, sum)
	}
}

func testSameBytesIsNoOp(t *testing.T, s archiver.Store) {
	data := []byte("day one\n")
	mustCreate(t, s, "a/obj", data)
	if err := create(t.Context(), s, "a/obj", data); err != nil {
		t.Fatalf("second Create with the same bytes: %v, want nil", err)
	}
	if got := mustRead(t, s, "a/obj"); !bytes.Equal(got, data) {
		t.Errorf("Open = %q, want %q", got, data)
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"a/obj"}) {
		t.Errorf("List = %q, want [a/obj]", got)
	}
}

func testDifferentBytesConflict(t *testing.T, s archiver.Store) {
	orig := []byte("original content\n")
	tests := []struct {
		name string
		data []byte
	}{
		{"same size", []byte("replaced content\n")},
		{"longer", []byte("original content\nand more\n")},
		{"shorter", []byte("orig")},
		{"empty", nil},
	}
	mustCreate(t, s, "obj", orig)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := create(t.Context(), s, "obj", tt.data)
			if !errors.Is(err, archiver.ErrConflict) {
				t.Errorf("Create with other bytes: %v, want ErrConflict", err)
			}
			if got := mustRead(t, s, "obj"); !bytes.Equal(got, orig) {
				t.Errorf("after conflict, Open = %q, want the original %q", got, orig)
			}
		})
	}
}

func testBadInputLeavesNothing(t *testing.T, s archiver.Store) {
	data := []byte("some bytes of an object\n")
	tests := []struct {
		name string
		size int64
		sum  [sha256.Size]byte
	}{
		{"wrong sum", int64(len(data)), sumOf([]byte("other bytes"))},
		{"zero sum", int64(len(data)), [sha256.Size]byte{}},
		{"size larger than body", int64(len(data)) + 1, sumOf(data)},
		{"size smaller than body", int64(len(data)) - 1, sumOf(data)},
		{"size zero", 0, sumOf(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "bad/" + strings.ReplaceAll(tt.name, " ", "-")
			if err := s.Create(t.Context(), key, bytes.NewReader(data), tt.size, tt.sum, archiver.CreateOptions{}); err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			requireAbsent(t, s, key)
			// Nothing left behind may block a correct retry.
			mustCreate(t, s, key, data)
		})
	}
}

func testFailingBodyLeavesNothing(t *testing.T, s archiver.Store) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	body := io.MultiReader(bytes.NewReader(data[:len(data)/2]), failingReader{errBody})
	if err := s.Create(t.Context(), "obj", body, int64(len(data)), sumOf(data), archiver.CreateOptions{}); err == nil {
		t.Fatal("Create with a failing body succeeded, want an error")
	}
	requireAbsent(t, s, "obj")
	mustCreate(t, s, "obj", data)
}

func testCancelledContextLeavesNothing(t *testing.T, s archiver.Store) {
	data := bytes.Repeat([]byte("x"), 1<<20)

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Create(ctx, "before", bytes.NewReader(data), int64(len(data)), sumOf(data), archiver.CreateOptions{}); err == nil {
			t.Fatal("Create with a cancelled context succeeded, want an error")
		}
		requireAbsent(t, s, "before")
	})

	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The body cancels after its first read and goes on to deliver every byte, so
		// only the store's own check of ctx can stop the write.
		body := &cancellingReader{r: bytes.NewReader(data), cancel: cancel}
		if err := s.Create(ctx, "during", body, int64(len(data)), sumOf(data), archiver.CreateOptions{}); err == nil {
			t.Fatal("Create cancelled midway succeeded, want an error")
		}
		requireAbsent(t, s, "during")
	})
}

// testInProgressInvisible holds a Create halfway through its body and checks that the
// object cannot be seen until Create returns.
func testInProgressInvisible(t *testing.T, s archiver.Store) {
	data := bytes.Repeat([]byte("half"), 64<<10)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- s.Create(t.Context(), "dir/obj", pr, int64(len(data)), sumOf(data), archiver.CreateOptions{})
	}()
	if _, err := pw.Write(data[:len(data)/2]); err != nil {
		t.Fatalf("write first half: %v", err)
	}
	requireAbsent(t, s, "dir/obj")
	if _, err := pw.Write(data[len(data)/2:]); err != nil {
		t.Fatalf("write second half: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"dir/obj"}) {
		t.Errorf("List = %q, want [dir/obj]", got)
	}
}

func testOpenMissing(t *testing.T, s archiver.Store) {
	mustCreate(t, s, "file", []byte("f"))
	mustCreate(t, s, "folder/obj", []byte("o"))
	for _, key := range []string{
		"missing",
		"no/such/key",
		"file/below", // below an object
		"folder",     // a prefix of objects, not an object
		"fil",        // a prefix of an object's key
	} {
		t.Run(key, func(t *testing.T) {
			rc, err := s.Open(t.Context(), key)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, archiver.ErrNotFound) {
				t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
			}
		})
	}
}

// orderKeys are ordered to catch a walk in per-folder name order: '-' and '.' sort before
// '/', so "a-b" and "a.b" come before everything in folder "a", and "a/b-c" before "a/b/c",
// while '0' sorts after '/'. No key is a folder of another, which a file system cannot hold.
var orderKeys = []string{
	"a0", "a/b/c", "b", "a/b-c", "a-b", "a/b.c", "a.b", "a/b/d/e", "A", "a/b0", "a/b/c0",
	"a/b/c-", "orgs/x/manifests/00000002", "orgs/x/manifests/00000001", "orgs/x/days/d",
}

func testListOrder(t *testing.T, s archiver.Store) {
	for _, k := range orderKeys {
		mustCreate(t, s, k, []byte(k))
	}
	want := slices.Sorted(slices.Values(orderKeys))
	if got := listAll(t, s, ""); !slices.Equal(got, want) {
		t.Errorf("List(\"\") =\n%q\nwant\n%q", got, want)
	}
}

func testListPrefix(t *testing.T, s archiver.Store) {
	if got := listAll(t, s, ""); len(got) != 0 {
		t.Errorf("List on an empty store = %q, want nothing", got)
	}
	for _, k := range orderKeys {
		mustCreate(t, s, k, []byte(k))
	}
	sorted := slices.Sorted(slices.Values(orderKeys))
	for _, prefix := range []string{
		"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/", "a/b/d", "a-", "a.",
		"orgs/x/manifests/0000000", "orgs/x/manifests/00000001", "orgs/", "orgs/y",
		"zzz", "a/x", "no/such/folder/",
	} {
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			var want []string
			for _, k := range sorted {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			if got := listAll(t, s, prefix); !slices.Equal(got, want) {
				t.Errorf("List(%q) = %q, want %q", prefix, got, want)
			}
		})
	}
}

func testListStops(t *testing.T, s archiver.Store) {
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		mustCreate(t, s, k, []byte(k))
	}
	errStop := errors.New("stop")
	var got []string
	err := s.List(t.Context(), "", func(key string) error {
		got = append(got, key)
		if len(got) == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Errorf("List returned %v, want fn's error", err)
	}
	if !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("List called fn with %q, want [k1 k2]", got)
	}
}

// testListAfter: the store's own ListAfter (it must be an archiver.AfterLister) gives
// exactly the keys List gives that sort after startAfter, for a startAfter before, at,
// between, inside and past the keys and folders, and stops when fn says so.
func testListAfter(t *testing.T, s archiver.Store) {
	al, ok := s.(archiver.AfterLister)
	if !ok {
		t.Fatalf("%T is not an archiver.AfterLister: listing the days after one would cost the whole folder", s)
	}
	checkListAfter(t, s, al.ListAfter)
}

// testListAfterFallback: archiver.ListAfter over a store that hides its ListAfter gives the
// same keys (what a wrapper that does not forward it gets).
func testListAfterFallback(t *testing.T, s archiver.Store) {
	plain := struct{ archiver.Store }{s}
	checkListAfter(t, s, func(ctx context.Context, prefix, startAfter string, fn func(string) error) error {
		return archiver.ListAfter(ctx, plain, prefix, startAfter, fn)
	})
}

func checkListAfter(t *testing.T, s archiver.Store, listAfter func(ctx context.Context, prefix, startAfter string, fn func(string) error) error) {
	for _, k := range orderKeys {
		mustCreate(t, s, k, []byte(k))
	}
	sorted := slices.Sorted(slices.Values(orderKeys))
	for _, prefix := range []string{"", "a", "a/", "a/b/", "orgs/", "orgs/x/manifests/", "no/such/"} {
		for _, after := range []string{
			"", "0", "a", "a-", "a/", "a/b", "a/b/", "a/b/c", "a/b/c-", "a/b/c/", "a/b/c/d", "a/b/c/e", "a/b/d", "a.b",
			"orgs", "orgs/x/days/d", "orgs/x/manifests/", "orgs/x/manifests/00000001", "orgs/x/manifests/000000015", "orgs/y", "zzz", "~",
		} {
			var want []string
			for _, k := range sorted {
				if strings.HasPrefix(k, prefix) && k > after {
					want = append(want, k)
				}
			}
			var got []string
			err := listAfter(t.Context(), prefix, after, func(key string) error {
				got = append(got, key)
				return nil
			})
			if err != nil {
				t.Fatalf("ListAfter(%q, %q): %v", prefix, after, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListAfter(%q, %q) = %q, want %q", prefix, after, got, want)
			}
		}
	}
	errStop := errors.New("stop")
	var got []string
	err := listAfter(t.Context(), "", "a/b/c", func(key string) error {
		got = append(got, key)
		if len(got) == 2 {
			return errStop
		}
		return nil
	})
	if want := sorted[slices.Index(sorted, "a/b/c")+1:][:2]; !errors.Is(err, errStop) || !slices.Equal(got, want) {
		t.Errorf("ListAfter stopped by fn: %q, %v; want %q and fn's error", got, err, want)
	}
	reliability.Record(t, "operations", "listing a folder's keys after a given key (the days after the last sealed one)", reliability.Kept,
		"ListAfter gives exactly the keys after the one given, in order, on every store; the folder store and S3 start the listing there instead of listing from the start")
}

const writers = 8

func testConcurrentSameBytes(t *testing.T, s archiver.Store) {
	data := bytes.Repeat([]byte("same"), 64<<10)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { errs[i] = create(t.Context(), s, "race/obj", data) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"race/obj"}) {
		t.Errorf("List = %q, want exactly [race/obj]", got)
	}
	if got := mustRead(t, s, "race/obj"); !bytes.Equal(got, data) {
		t.Error("stored bytes differ from the written ones")
	}
}

func testConcurrentDifferentBytes(t *testing.T, s archiver.Store) {
	datas := make([][]byte, writers)
	for i := range datas {
		datas[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { errs[i] = create(t.Context(), s, "race/obj", datas[i]) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, archiver.ErrConflict):
			t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	if got := mustRead(t, s, "race/obj"); !bytes.Equal(got, datas[winner]) {
		t.Errorf("stored bytes are not the winner's (writer %d)", winner)
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"race/obj"}) {
		t.Errorf("List = %q, want exactly [race/obj]", got)
	}
}

// sumOf returns the SHA-256 of data, as Store.Create wants it.
func sumOf(data []byte) [sha256.Size]byte { return sha256.Sum256(data) }

// stream returns size deterministic pseudo-random bytes, the same for the same seed.
func stream(seed byte, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), size)
}

// streamSum is the SHA-256 of stream(seed, size).
func streamSum(seed byte, size int64) [sha256.Size]byte {
	h := sha256.New()
	if _, err := io.Copy(h, stream(seed, size)); err != nil {
		panic(err) // ChaCha8 never fails
	}
	return [sha256.Size]byte(h.Sum(nil))
}

func create(ctx context.Context, s archiver.Store, key string, data []byte) error {
	return s.Create(ctx, key, bytes.NewReader(data), int64(len(data)), sumOf(data), archiver.CreateOptions{})
}

func mustCreate(t *testing.T, s archiver.Store, key string, data []byte) {
	t.Helper()
	if err := create(t.Context(), s, key, data); err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
}

func mustRead(t *testing.T, s archiver.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func listAll(t *testing.T, s archiver.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), prefix, func(key string) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// requireAbsent checks that key can be neither opened nor listed.
func requireAbsent(t *testing.T, s archiver.Store, key string) {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, archiver.ErrNotFound) {
		t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
	}
	if got := listAll(t, s, key); len(got) != 0 {
		t.Errorf("List(%q) = %q, want nothing", key, got)
	}
}

var errBody = errors.New("body failed")

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// cancellingReader cancels its context on the first read but keeps delivering data.
type cancellingReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	r.cancel()
	return r.r.Read(p)
}

// testKeysOutsideKeySpace: keys and prefixes that try to leave the store's key space (its
// folder, its bucket prefix) are refused by Create, Open and List, and nothing is written.
func testKeysOutsideKeySpace(t *testing.T, s archiver.Store) {
	ctx := t.Context()
	mustCreate(t, s, "orgs/a/k", []byte("inside"))
	data := []byte("escape attempt")
	keys := []string{"", "/etc/passwd", "..", "../outside", "orgs/a/../../outside", "orgs/./a/k",
		"orgs//a/k", "orgs/a/", `orgs\..\..\outside`, "orgs/a/k\x00.txt", "orgs/%2e%2e/x"}
	for _, key := range keys {
		err := create(ctx, s, key, data)
		if key == "orgs/%2e%2e/x" {
			// Percent signs are ordinary characters in a key: this one stays inside.
			if err != nil {
				t.Errorf("Create(%q) = %v, want an object named literally", key, err)
			}
			continue
		}
		if !errors.Is(err, archiver.ErrInvalidKey) {
			t.Errorf("Create(%q) = %v, want ErrInvalidKey", key, err)
		}
		if rc, err := s.Open(ctx, key); !errors.Is(err, archiver.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "/etc/", "../", "orgs/../../", "orgs//", `orgs\a`, "orgs\x00"} {
		err := s.List(ctx, prefix, func(key string) error {
			t.Errorf("List(%q) reported %q", prefix, key)
			return nil
		})
		if !errors.Is(err, archiver.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	if got := listAll(t, s, ""); !slices.Equal(got, []string{"orgs/%2e%2e/x", "orgs/a/k"}) {
		t.Errorf("store holds %q, want only the two valid objects", got)
	}
	reliability.Record(t, "security", "store key with ../, absolute path, NUL, backslash or empty segment", reliability.Refused,
		"Create, Open and List refuse it with ErrInvalidKey; nothing written")
}

// testDeleteOnlyTasks checks the one deletion a store may offer: an export task's object
// goes, the same name can then be created again, and anything outside tasks/ is refused
// and stays.
func testDeleteOnlyTasks(t *testing.T, s archiver.Store) {
	d, ok := s.(archiver.Deleter)
	if !ok {
		t.Fatalf("%T does not implement archiver.Deleter", s)
	}
	ctx := context.Background()
	const task = "tasks/org/0f6c/result-ab.jsonl.gz"
	mustCreate(t, s, task, []byte("result"))
	mustCreate(t, s, "tasks/org/0f6c/request.json", []byte("{}"))
	for _, key := range []string{"orgs/0f6c/days/2026-11-22/r0001.json", "audit/2026-11-22/x.json", "tasksx/a", "tasks/../orgs/0f6c/days/2026-11-22/r0001.json"} {
		if !strings.Contains(key, "..") {
			mustCreate(t, s, key, []byte("sealed"))
		}
		if err := d.Delete(ctx, key); err == nil || !strings.Contains(err.Error(), "refused") && !strings.Contains(err.Error(), "invalid key") {
			t.Errorf("Delete(%q) = %v, want a refusal", key, err)
		}
	}
	if got := mustRead(t, s, "orgs/0f6c/days/2026-11-22/r0001.json"); string(got) != "sealed" {
		t.Errorf("a refused delete changed the object: %q", got)
	}
	if err := d.Delete(ctx, task); err != nil {
		t.Fatal(err)
	}
	requireAbsent(t, s, task)
	if got := listAll(t, s, "tasks/"); !slices.Equal(got, []string{"tasks/org/0f6c/request.json"}) {
		t.Errorf("after delete, tasks/ lists %q", got)
	}
	if err := d.Delete(ctx, task); !errors.Is(err, archiver.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}
