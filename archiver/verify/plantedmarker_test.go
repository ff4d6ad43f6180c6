package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestPlantedFreshMarkerRefused: before the first layout-3 seal of a store sealed in
// layout 2, someone who can write to it but holds no key creates the layout marker a
// store sealed in layout 3 from its first day has ({"since":"1970-01-01"}): Head then
// does not look for old chains at all, so before, the next seal started every
// organization's chain again at seq 1, a fork of each one that a locking store keeps for
// good. Head now checks, for an organization with no layout-3 manifest, that such a
// marker is not contradicted by an old chain (one read of its first chain key, once per
// organization): the organization's day fails, nothing committed, naming the marker.
func TestPlantedFreshMarkerRefused(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := sealDays(t, newFSStore(t, root), root, 5, 3)
	b := []byte(`{"version":3,"since":"1970-01-01"}` + "\n")
	if err := a.store.Create(ctx, archiver.LayoutKey, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := fsstore.New(root) // a new process
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	day := a.next
	sealer := &archiver.Sealer{Source: a.src, Store: s, Chain: ledger.Ledger{Store: s}, Options: archiver.Options{
		Now: func() time.Time { return day.End().Add(30 * time.Minute) }, TempDir: t.TempDir(),
		SigningKey: a.key, Logger: slog.New(slog.DiscardHandler), Layout: archiver.Layout3}}
	res, err := sealer.Seal(ctx, day, a.dirBytes, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Orgs {
		if (o.Org == acme || o.Org == globex) && !errors.Is(o.Err, archiver.ErrForgedLayout) {
			t.Errorf("seal of %s for %s with a fresh-store marker planted: %v, want it refused", day, o.Org, o.Err)
		}
	}
	rep, err := Run(ctx, ledger.Ledger{Store: s}, Options{TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	// verify reports the marker (TestMarkerHidingOldDaysReported), and nothing else: no fork.
	if len(rep.Problems) == 0 {
		t.Error("verify after the refused seal: no problem, want the marker reported")
	}
	for _, p := range rep.Problems {
		if !strings.Contains(p, archiver.LayoutKey) || strings.Contains(p, "fork") {
			t.Errorf("verify after the refused seal: %s", p)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "a layout marker of a store sealed in layout 3 from its first day planted in a layout-2 store", reliability.Refused,
		"the next seal fails each organization with an old chain (one read of its first chain key), nothing committed: no chain starts again at seq 1 beside the old one")
}
