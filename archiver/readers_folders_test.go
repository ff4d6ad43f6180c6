package archiver_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestListFolders: the folders under a prefix, in the order of their keys, on the
// folder store, on S3 (a delimiter listing) and by the fallback for a store that lists no
// folders (one ListAfter per folder); an object right under the prefix is no folder.
func TestListFolders(t *testing.T) {
	keys := []string{"orgs/a/x", "orgs/a-b/y", "orgs/a0/z", "orgs/b/c/d", "orgs/b/e", "orgs/file", "other/q/r"}
	want := []string{"a-b", "a", "a0", "b"}
	fill := func(t *testing.T, s archiver.Store) {
		for _, k := range keys {
			b := []byte(k)
			if err := s.Create(t.Context(), k, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T, s archiver.Store) {
		var got []string
		if err := archiver.ListFolders(t.Context(), s, "orgs/", func(n string) error { got = append(got, n); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("folders = %q, want %q", got, want)
		}
		got = nil
		err := archiver.ListFolders(t.Context(), s, "orgs/", func(n string) error {
			got = append(got, n)
			return archiver.ErrStopListing
		})
		if err != nil || !slices.Equal(got, want[:1]) {
			t.Errorf("stopped listing = %q, %v; want %q, nil", got, err, want[:1])
		}
		boom := errors.New("boom")
		if err := archiver.ListFolders(t.Context(), s, "orgs/", func(string) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("callback's error: got %v", err)
		}
		if err := archiver.ListFolders(t.Context(), s, "none/", func(n string) error { t.Errorf("folder %q of nothing", n); return nil }); err != nil {
			t.Error(err)
		}
		// HasFolder: an object right under the prefix is no folder.
		for prefix, want := range map[string]bool{"orgs/": true, "orgs/b/": true, "orgs/a/": false, "none/": false} {
			if got, err := archiver.HasFolder(t.Context(), s, prefix); err != nil || got != want {
				t.Errorf("HasFolder(%q) = %v, %v; want %v", prefix, got, err, want)
			}
		}
	}
	t.Run("folder", func(t *testing.T) {
		s, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fill(t, s)
		check(t, s)
		c := storetest.NewCounting(s)
		check(t, c)
	})
	t.Run("fallback", func(t *testing.T) {
		s, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fill(t, s)
		// Only Store and AfterLister: no ListFolders.
		plain := struct {
			archiver.Store
			archiver.AfterLister
		}{s, s}
		check(t, plain)
		c := storetest.NewCounting(plain)
		var n int
		if err := archiver.ListFolders(t.Context(), c, "orgs/", func(string) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		// One ListAfter per folder, one past the last, one for the object right under orgs/.
		if got := c.Counts()["ListAfter"]; n != 4 || got != 6 {
			t.Errorf("fallback: %d folders in %d listings, want 4 in 6", n, got)
		}
		// HasFolder stops at the first folder: one listing.
		c = storetest.NewCounting(plain)
		if ok, err := archiver.HasFolder(t.Context(), c, "orgs/"); err != nil || !ok {
			t.Fatalf("HasFolder(orgs/) = %v, %v", ok, err)
		}
		if got := c.Counts()["ListAfter"]; got != 1 {
			t.Errorf("HasFolder: %d listings, want 1", got)
		}
	})
	t.Run("s3", func(t *testing.T) {
		srv := miniotest.Start(t)
		s, err := s3.NewStore(t.Context(), srv.Client(), srv.Bucket(t, false), "archive", s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		check(t, s)
	})
}
