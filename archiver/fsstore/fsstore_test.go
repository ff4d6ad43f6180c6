package fsstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
)

// TestLookups: the ledger's lookups over the folder store cost what they answer, not the
// store's history (storetest.RunLookups).
func TestLookups(t *testing.T) {
	storetest.RunLookups(t, func(t *testing.T) archiver.Store { return newStore(t, t.TempDir()) })
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) archiver.Store {
		s := newStore(t, t.TempDir())
		// Whatever a subtest did, it must not leave a temporary file behind.
		t.Cleanup(func() {
			for _, f := range filesOnDisk(t, s.Dir()) {
				if strings.Contains(f, ".tmp-") {
					t.Errorf("temporary file left behind: %s", f)
				}
			}
		})
		return s
	})
}

func TestNewCreatesRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "archive")
	s := newStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("root folder: %v, %v", fi, err)
	}
	create(t, s, "k", []byte("v"))
	if _, err := os.Stat(filepath.Join(dir, "k")); err != nil {
		t.Errorf("object not under the root: %v", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"absolute", "/etc/passwd"},
		{"parent", ".."},
		{"parent first", "../outside"},
		{"parent inside", "a/../../outside"},
		{"dot", "."},
		{"dot segment", "a/./b"},
		{"empty segment", "a//b"},
		{"trailing slash", "a/"},
		{"backslash", `a\..\..\outside`},
		{"NUL", "a\x00b"},
		{"temporary name", ".tmp-x"},
		{"temporary name in folder", "a/.tmp-x"},
	}
	parent := t.TempDir()
	s := newStore(t, filepath.Join(parent, "root"))
	data := []byte("escape attempt")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			err := s.Create(ctx, tt.key, bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), "invalid key") {
				t.Errorf("Create(%q) = %v, want an invalid key error", tt.key, err)
			}
			if rc, err := s.Open(ctx, tt.key); err == nil {
				rc.Close()
				t.Errorf("Open(%q) succeeded, want an error", tt.key)
			}
		})
	}
	if got := filesOnDisk(t, parent); len(got) != 0 {
		t.Errorf("files written: %q, want none", got)
	}
}

func TestInvalidListPrefixes(t *testing.T) {
	s := newStore(t, t.TempDir())
	for _, prefix := range []string{"/", "/etc/", "../", "a/../../", "a//", `a\b`, "a\x00"} {
		err := s.List(t.Context(), prefix, func(key string) error {
			t.Errorf("List(%q) reported %q", prefix, key)
			return nil
		})
		if err == nil {
			t.Errorf("List(%q) succeeded, want an error", prefix)
		}
	}
}

// TestNoTempFilesAfterFailures runs every way Create can fail or do nothing and checks that
// only committed objects remain on disk.
func TestNoTempFilesAfterFailures(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	data := bytes.Repeat([]byte("data"), 100<<10)
	sum := sha256.Sum256(data)
	size := int64(len(data))
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	create(t, s, "x/exists", data)

	tests := []struct {
		name string
		ctx  context.Context
		key  string
		body io.Reader
		size int64
		sum  [sha256.Size]byte
		ok   bool
	}{
		{"wrong sum", t.Context(), "x/a", bytes.NewReader(data), size, [sha256.Size]byte{1}, false},
		{"short body", t.Context(), "x/b", bytes.NewReader(data[1:]), size, sum, false},
		{"long body", t.Context(), "x/c", bytes.NewReader(append(data, '!')), size, sum, false},
		{"failing body", t.Context(), "x/d", io.MultiReader(bytes.NewReader(data[:1000]), errReader{}), size, sum, false},
		{"cancelled", cancelled, "x/e", bytes.NewReader(data), size, sum, false},
		{"conflict", t.Context(), "x/exists", bytes.NewReader(data[1:]), size - 1, sha256.Sum256(data[1:]), false},
		{"same bytes", t.Context(), "x/exists", bytes.NewReader(data), size, sum, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Create(tt.ctx, tt.key, tt.body, tt.size, tt.sum, archiver.CreateOptions{})
			if (err == nil) != tt.ok {
				t.Fatalf("Create = %v, want success %v", err, tt.ok)
			}
		})
	}
	if got, want := filesOnDisk(t, dir), []string{"x/exists"}; !slices.Equal(got, want) {
		t.Errorf("files on disk = %q, want %q", got, want)
	}
}

// TestErrors checks that errors keep their cause and say where they come from.
func TestErrors(t *testing.T) {
	s := newStore(t, t.TempDir())
	data := []byte("0123456789")
	sum := sha256.Sum256(data)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"failing body", s.Create(t.Context(), "a", io.MultiReader(bytes.NewReader(data[:3]), errReader{}), 10, sum, archiver.CreateOptions{}), errBody},
		{"cancelled create", s.Create(cancelled, "b", bytes.NewReader(data), 10, sum, archiver.CreateOptions{}), context.Canceled},
		{"short body", s.Create(t.Context(), "c", bytes.NewReader(data[:3]), 10, sum, archiver.CreateOptions{}), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("got nil error")
			}
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("error %v does not wrap %v", tt.err, tt.want)
			}
			if !strings.HasPrefix(tt.err.Error(), "fsstore: ") {
				t.Errorf("error %q lacks the fsstore: prefix", tt.err)
			}
		})
	}
}

func TestCancelledList(t *testing.T) {
	s := newStore(t, t.TempDir())
	create(t, s, "a", []byte("a"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.List(ctx, "", func(key string) error {
		t.Errorf("List reported %q after cancel", key)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List = %v, want context.Canceled", err)
	}
}

func TestObjectsAreReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	create(t, s, "orgs/o/days/d", []byte("sealed"))
	create(t, s, "empty", nil)
	for _, key := range []string{"orgs/o/days/d", "empty"} {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o400 {
			t.Errorf("%s has mode %v, want -r--------", key, got)
		}
	}
}

// TestKeyFolderCollision: a file system cannot hold "a/b" both as an object and as a folder.
// Whichever comes second fails, not as a conflict (no object differs) and without harm.
func TestKeyFolderCollision(t *testing.T) {
	s := newStore(t, t.TempDir())
	create(t, s, "a/b", []byte("file"))
	create(t, s, "x/y/z", []byte("nested"))
	tests := []struct{ key, kept string }{
		{"a/b/c", "a/b"},
		{"x/y", "x/y/z"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			err := s.Create(t.Context(), tt.key, strings.NewReader("v"), 1, sha256.Sum256([]byte("v")), archiver.CreateOptions{})
			if err == nil || errors.Is(err, archiver.ErrConflict) {
				t.Errorf("Create(%q) = %v, want a non-conflict error", tt.key, err)
			}
			rc, err := s.Open(t.Context(), tt.kept)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.kept, err)
			}
			rc.Close()
		})
	}
}

func TestSymlinkOutOfRootNotFollowed(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "root")
	s := newStore(t, dir)
	if err := os.Symlink(outside, filepath.Join(dir, "dirlink")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "filelink")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	for _, key := range []string{"dirlink/secret", "filelink"} {
		if rc, err := s.Open(ctx, key); err == nil {
			rc.Close()
			t.Errorf("Open(%q) followed a symlink out of the root", key)
		}
	}
	data := []byte("planted")
	if err := s.Create(ctx, "dirlink/planted", bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{}); err == nil {
		t.Error("Create through a symlink out of the root succeeded")
	}
	if _, err := os.Lstat(filepath.Join(outside, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file planted outside the root: %v", err)
	}
	var listed []string
	if err := s.List(ctx, "", func(k string) error { listed = append(listed, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 {
		t.Errorf("List = %q, want nothing (symlinks are not objects)", listed)
	}
	if err := s.List(ctx, "dirlink/", func(k string) error { listed = append(listed, k); return nil }); err == nil && len(listed) != 0 {
		t.Errorf("List(dirlink/) = %q, want nothing", listed)
	}
}

func BenchmarkCreate(b *testing.B) {
	s, err := fsstore.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	sum := sha256.Sum256(data)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("orgs/o%d/days/2026-11-22/r1.jsonl.gz", i%64)
		if i >= 64 {
			key = fmt.Sprintf("orgs/o%d/days/%d/r1.jsonl.gz", i%64, i)
		}
		i++
		if err := s.Create(b.Context(), key, bytes.NewReader(data), int64(len(data)), sum, archiver.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func newStore(t *testing.T, dir string) *fsstore.Store {
	t.Helper()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func create(t *testing.T, s *fsstore.Store, key string, data []byte) {
	t.Helper()
	if err := s.Create(t.Context(), key, bytes.NewReader(data), int64(len(data)), sha256.Sum256(data), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// filesOnDisk returns every non-folder below dir, hidden ones included, slash-separated and
// relative to dir.
func filesOnDisk(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var errBody = errors.New("body failed")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBody }

// TestOpenNeverCreates: the read-only Open fails on a missing folder without creating it,
// and the store it returns refuses to write.
func TestOpenNeverCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing", "archive")
	if s, err := fsstore.Open(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open(missing) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !os.IsNotExist(err) {
		t.Fatalf("Open created %s (stat: %v)", filepath.Dir(dir), err)
	}
	existing := t.TempDir()
	s, err := fsstore.Open(existing)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := []byte("x")
	if err := s.Create(t.Context(), "k", bytes.NewReader(data), 1, sha256.Sum256(data), archiver.CreateOptions{}); !errors.Is(err, fsstore.ErrReadOnly) {
		t.Errorf("Create on a read-only store = %v, want ErrReadOnly", err)
	}
	if entries, _ := os.ReadDir(existing); len(entries) != 0 {
		t.Errorf("read-only store wrote %v", entries)
	}
}
