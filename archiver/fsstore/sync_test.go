package fsstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSyncsPerCreate counts the fsyncs of Creates: a new object costs its file and its
// folder, plus each folder on the way whose name this Store has not made durable yet, once.
// A deep folder must not cost a sync per level on every Create under it.
func TestSyncsPerCreate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, t.TempDir())
	create := func(key string) int64 {
		t.Helper()
		body := []byte("body of " + key)
		before := s.Syncs()
		if err := s.Create(ctx, key, bytes.NewReader(body), int64(len(body)), sha256.Sum256(body), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return s.Syncs() - before
	}
	tests := []struct {
		key  string
		want int64
	}{
		// New folders a, a/b, …, a/b/c/d/e/f: the file, f, and each new name in its parent.
		{"a/b/c/d/e/f/x1", 1 + 1 + 6},
		// The same folder again: the file and its folder only, whatever the depth.
		{"a/b/c/d/e/f/x2", 2},
		{"a/b/c/d/e/f/x3", 2},
		// A new folder below known ones: its name in its parent, once.
		{"a/b/c/d/e/g/y1", 1 + 1 + 1},
		{"a/b/c/d/e/g/y2", 2},
		// At the root.
		{"top", 2},
	}
	for _, tt := range tests {
		if got := create(tt.key); got != tt.want {
			t.Errorf("Create %s: %d fsyncs, want %d", tt.key, got, tt.want)
		}
	}
	// An object already there (a rerun) is compared, and its folder synced again: the run
	// that linked it may have crashed before its own sync.
	if got := create("a/b/c/d/e/f/x1"); got != 1 {
		t.Errorf("Create of an existing object: %d fsyncs, want 1 (its folder)", got)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "folder store: fsyncs per object created", reliability.Kept,
		"the file and its folder; a new folder's name synced in its parent once per process, not on every Create below it (a key 7 levels deep: 2 fsyncs, was 8)")
}
