//go:build linux

package fsstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// die does to s what the kernel does to a process that is killed: its owner file's lock
// goes, the file stays, and nothing of its batch is flushed or aborted.
func die(t *testing.T, s *Store) {
	t.Helper()
	s.owner.mu.Lock()
	defer s.owner.mu.Unlock()
	if s.owner.f == nil {
		t.Fatal("the store holds no owner file")
	}
	s.owner.f.Close()
	s.owner.f, s.owner.n = nil, 0
}

// TestTemporariesOfLiveAndGoneWriters: a sweep removes the temporary files of a writer
// that is gone (its owner file unlocked, as a SIGKILL leaves it) and, without an owner
// file, those unwritten for a week; never those of a live writer, in this process or
// another, whose batch later links them.
func TestTemporariesOfLiveAndGoneWriters(t *testing.T) {
	if !canLock {
		t.Skip("batches and owner files need syncfs and flock")
	}
	const foreign = ".tmp-ABCDEFGHIJKLMNOP.1" // a writer without an owner file
	tests := []struct {
		name string
		// setup leaves temporary files in the store at dir and returns what must link them
		// after the sweep (nil when nothing must).
		setup func(t *testing.T, dir string) (after func(t *testing.T))
		below string
		want  Temporaries // after a sweep with remove
		left  int         // temporary files on disk after it
	}{
		{
			name: "live batch of another store",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				w := openStore(t, dir)
				b := w.NewBatch()
				mustBatchCreate(t, w, b, "orgs/a/x", "xx")
				mustBatchCreate(t, w, b, "orgs/b/y", "yyy")
				return func(t *testing.T) {
					if failed, err := b.Flush(t.Context()); err != nil || failed != nil {
						t.Fatalf("flush after the sweep: %v %v", failed, err)
					}
					readBack(t, w, "orgs/a/x", "xx")
					// A store at rest holds no owner file.
					if _, err := os.Stat(filepath.Join(dir, ownerName(w.token))); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("owner file after the flush: %v, want none", err)
					}
				}
			},
			below: ".",
			want:  Temporaries{Files: 2, Bytes: 5},
			left:  2,
		},
		{
			name: "live stream object of another store",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				w := openStore(t, dir)
				o, err := w.CreateStream(t.Context(), "orgs/a")
				if err != nil {
					t.Fatal(err)
				}
				o.Write([]byte("half"))
				return func(t *testing.T) {
					if _, err := o.Commit(t.Context(), "orgs/a/s", 4, sha256.Sum256([]byte("half")), archiver.CreateOptions{}); err != nil {
						t.Fatalf("commit after the sweep: %v", err)
					}
				}
			},
			below: ".",
			want:  Temporaries{Files: 1, Bytes: 4},
			left:  1,
		},
		{
			name: "killed writer",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				w := openStore(t, dir)
				b := w.NewBatch()
				mustBatchCreate(t, w, b, "orgs/a/x", "xx")
				mustBatchCreate(t, w, b, "orgs/b/y", "yyy")
				die(t, w)
				return nil
			},
			below: ".",
			want:  Temporaries{Files: 2, Bytes: 5, Stale: 2, StaleBytes: 5, Removed: 2, RemovedBytes: 5},
		},
		{
			name: "killed writer, one organization's folder swept",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				w := openStore(t, dir)
				b := w.NewBatch()
				mustBatchCreate(t, w, b, "orgs/a/x", "xx")
				mustBatchCreate(t, w, b, "orgs/b/y", "yyy")
				die(t, w)
				return nil
			},
			below: "orgs/b",
			want:  Temporaries{Files: 1, Bytes: 3, Stale: 1, StaleBytes: 3, Removed: 1, RemovedBytes: 3},
			left:  1,
		},
		{
			name: "no owner file, written an hour ago",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				plant(t, dir, "orgs/a/"+foreign, "abcd", time.Hour)
				return nil
			},
			below: ".",
			want:  Temporaries{Files: 1, Bytes: 4, Unknown: 1, UnknownBytes: 4},
			left:  1,
		},
		{
			name: "no owner file, unwritten for eight days",
			setup: func(t *testing.T, dir string) func(*testing.T) {
				plant(t, dir, "orgs/a/"+foreign, "abcd", 8*24*time.Hour)
				return nil
			},
			below: ".",
			want:  Temporaries{Files: 1, Bytes: 4, Stale: 1, StaleBytes: 4, Removed: 1, RemovedBytes: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			after := tt.setup(t, dir)
			sweeper := openStore(t, dir)
			got, err := sweeper.TemporariesBelow(t.Context(), tt.below, true)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("sweep: %+v, want %+v", got, tt.want)
			}
			if left := tempFiles(t, sweeper); len(left) != tt.left {
				t.Errorf("temporary files left: %v, want %d", left, tt.left)
			}
			if after != nil {
				after(t)
			}
		})
	}
	t.Run("owner files of the gone removed with a whole-store sweep only", func(t *testing.T) {
		dir := t.TempDir()
		w := openStore(t, dir)
		mustBatchCreate(t, w, w.NewBatch(), "orgs/a/x", "xx")
		die(t, w)
		owner := filepath.Join(dir, ownerName(w.token))
		sweeper := openStore(t, dir)
		if _, err := sweeper.TemporariesBelow(t.Context(), "orgs", true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(owner); err != nil {
			t.Fatalf("owner file after a sweep of orgs/: %v, want it kept", err)
		}
		if _, err := sweeper.TemporariesBelow(t.Context(), ".", true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(owner); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("owner file after a sweep of the store: %v, want it removed", err)
		}
	})
	t.Run("the sweeping store's own batch", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		b := s.NewBatch()
		mustBatchCreate(t, s, b, "orgs/a/x", "xx")
		got, err := s.TemporariesBelow(t.Context(), ".", true)
		if err != nil || got != (Temporaries{Files: 1, Bytes: 2}) {
			t.Fatalf("sweep: %+v %v, want the batch's file kept", got, err)
		}
		if failed, err := b.Flush(t.Context()); err != nil || failed != nil {
			t.Fatalf("flush: %v %v", failed, err)
		}
	})
	t.Run("a rerun's batch holds the owner file once, across found exports", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		owner := filepath.Join(dir, ownerName(s.token))
		stream := func(b archiver.Batch, key string) {
			t.Helper()
			o, err := s.CreateStream(t.Context(), "orgs/a")
			if err != nil {
				t.Fatal(err)
			}
			o.Write([]byte("export"))
			if _, err := o.Commit(t.Context(), key, 6, sha256.Sum256([]byte("export")), archiver.CreateOptions{Batch: b}); err != nil {
				t.Fatal(err)
			}
		}
		first := s.NewBatch()
		stream(first, "orgs/a/e1")
		stream(first, "orgs/a/e2")
		if _, err := first.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		rerun := s.NewBatch()
		stream(rerun, "orgs/a/e1") // found: its temporary file aborted
		fi, err := os.Stat(owner)
		if err != nil {
			t.Fatalf("owner file while the rerun's batch is open: %v", err)
		}
		stream(rerun, "orgs/a/e2")
		if fi2, err := os.Stat(owner); err != nil || !os.SameFile(fi, fi2) {
			t.Fatalf("owner file after the second found export: %v; want the same file, held since the first", err)
		}
		if _, err := rerun.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(owner); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("owner file after the flush: %v, want none", err)
		}
	})
	t.Run("read-only store counts, never removes", func(t *testing.T) {
		dir := t.TempDir()
		w := openStore(t, dir)
		mustBatchCreate(t, w, w.NewBatch(), "orgs/a/x", "xx")
		die(t, w)
		ro, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		got, err := ro.TemporariesBelow(t.Context(), ".", false)
		if err != nil || got != (Temporaries{Files: 1, Bytes: 2, Stale: 1, StaleBytes: 2}) {
			t.Fatalf("count: %+v %v", got, err)
		}
		if _, err := ro.TemporariesBelow(t.Context(), ".", true); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("remove on a read-only store: %v, want ErrReadOnly", err)
		}
	})
	reliability.Record(t, "operations", "folder store: temporary files of a writer that is gone (SIGKILL, OOM, power cut)", reliability.Kept,
		"counted and removed by a sweep: a writer holds its owner file locked (flock) while it has temporary files, so one left unlocked is a dead writer's; a live writer's batch or stream object, in this process or another, is never touched; without an owner file, only after a week unwritten")
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustBatchCreate creates key into b, failing the test on error.
func mustBatchCreate(t *testing.T, s *Store, b archiver.Batch, key, body string) {
	t.Helper()
	if err := batchCreate(t, s, b, key, body); err != nil {
		t.Fatal(err)
	}
}

func readBack(t *testing.T, s *Store, key, want string) {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	buf.ReadFrom(r)
	if buf.String() != want {
		t.Fatalf("%s holds %q, want %q", key, buf.String(), want)
	}
}

// plant writes a file at rel below dir, last written age ago.
func plant(t *testing.T, dir, rel, body string, age time.Duration) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o400); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}
