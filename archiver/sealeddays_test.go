package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// TestSealedDays: a day counts as sealed when it has a day index (r<rev>.json), once
// however many revisions it has; a day with only a failed attempt, or only a data object
// (a crash before its manifest), is not; another organization's days are not listed.
func TestSealedDays(t *testing.T) {
	ctx := context.Background()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, key := range []string{
		"orgs/a/manifests/000000000001.json",
		"orgs/a/days/2026-11-18/events-00.jsonl.gz",
		"orgs/a/days/2026-11-18/r0001.json",
		"orgs/a/days/2026-11-18/r0002.json",
		"orgs/a/days/2026-11-19/failed-1764547200000.json",
		"orgs/a/days/2026-11-20/events-01.jsonl.gz",
		"orgs/a/days/2026-11-21/r0001.json",
		"orgs/a/days/2026-11-22/r0001.json.tmp",
		"orgs/a/days/2026-11-23/rx.json",
		"orgs/ab/days/2026-11-24/r0001.json",
	} {
		b := []byte(key)
		if err := store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := (ledger.Ledger{Store: store}).SealedDays(ctx, "a", func(d archiver.Day) error {
		got = append(got, d.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2026-11-18", "2026-11-21"}; !slices.Equal(got, want) {
		t.Fatalf("sealed days %q, want %q", got, want)
	}
}
