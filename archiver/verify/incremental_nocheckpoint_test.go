package verify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestIncrementalWithoutCheckpoint: the first nightly `verify --incremental` of a store
// (no checkpoint yet) walks every chain whole. On a sound store it passes and writes the
// first checkpoint; before the fix it reported every sealed day's manifests as named by
// no accounting object (it read the accounting objects of the new manifests' days only,
// and a whole walk has none), so the nightly job failed on its first night. An accounting
// object really deleted is still reported.
func TestIncrementalWithoutCheckpoint(t *testing.T) {
	ctx := context.Background()
	inc := func(a *archive) *Report {
		t.Helper()
		rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{Incremental: true, TrustedKey: a.pub(), Directory: a.dir,
			CheckpointKey: a.key, Now: clockAt(a.next.Start().Add(2 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a := newArchive(t, 3)
	if rep := inc(a); !rep.OK() || rep.Wrote == "" {
		t.Fatalf("first incremental of a sound store: problems %q, wrote %q", rep.Problems, rep.Wrote)
	}
	b := newArchive(t, 3)
	remove(t, b.root, archiver.AccountingPrefix+b.days[1].String()+"/")
	rep := inc(b)
	if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.HasPrefix(p, b.days[1].String()+": 2 of the day's 2 manifests")
	}) {
		t.Fatalf("first incremental with %s's accounting objects deleted: problems %q", b.days[1], rep.Problems)
	}
	reliability.Record(t, "operations", "first verify --incremental of a store, no checkpoint yet", reliability.Kept,
		"every chain walked whole with its days' accounting objects: a sound store passes and gets its first checkpoint; a deleted accounting object is still reported")
}
