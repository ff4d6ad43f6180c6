package fsstore_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestStoreFolderMovedOrDeleted moves or deletes the store folder under an open Store, as
// an operator restoring a backup or cleaning up might while serve runs. The Store held the
// old folder open: before, it went on writing into the moved folder (where nothing else
// looks: a run or verify on the configured path saw another store, and a second sealer there
// would fork the chains), listed a deleted folder as empty and read its objects as not
// found. Now every call fails with ErrStoreMoved naming the folder; a Store opened again on
// the path works.
func TestStoreFolderMovedOrDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
	}{
		{"moved, another folder made at its path", func(t *testing.T, dir string) {
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir() + "/store"
			s, err := fsstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			put := func(s *fsstore.Store, key string) error {
				return s.Create(t.Context(), key, strings.NewReader(key), int64(len(key)), sha256.Sum256([]byte(key)), archiver.CreateOptions{})
			}
			if err := put(s, "org/1"); err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir)

			err = put(s, "org/2")
			if !errors.Is(err, fsstore.ErrStoreMoved) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Create after the change = %v, want ErrStoreMoved naming %s", err, dir)
			}
			if _, serr := os.Stat(dir + ".old/org/2"); serr == nil {
				t.Error("Create wrote into the moved folder")
			}
			var listed []string
			err = s.List(t.Context(), "org/", func(k string) error { listed = append(listed, k); return nil })
			if !errors.Is(err, fsstore.ErrStoreMoved) {
				t.Errorf("List after the change = %v (listed %q), want ErrStoreMoved", err, listed)
			}
			rc, err := s.Open(t.Context(), "org/9")
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, fsstore.ErrStoreMoved) || errors.Is(err, archiver.ErrNotFound) {
				t.Errorf("Open of a missing key after the change = %v, want ErrStoreMoved and not ErrNotFound", err)
			}
			if err := s.Delete(t.Context(), archiver.TasksPrefix+"x"); !errors.Is(err, fsstore.ErrStoreMoved) {
				t.Errorf("Delete after the change = %v, want ErrStoreMoved", err)
			}

			// The rerun (a new process) opens the folder now at the path and works.
			s2, err := fsstore.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if err := put(s2, "org/2"); err != nil {
				t.Fatalf("Create on the store opened again: %v", err)
			}
			reliability.Record(t, "fault", "store folder "+tc.name+" while a process holds it open (serve)", reliability.CleanFailure,
				"every create, list, delete and not-found read fails with ErrStoreMoved naming the folder: nothing is written into a moved folder, a deleted one is not listed as empty; a restart opens the folder now at the path")
		})
	}
}
