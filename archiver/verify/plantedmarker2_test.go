package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestMarkerHidingOldDaysReported: someone who can write to a store sealed in layout 2
// creates the layout marker with a since before its sealed days. Readers then look for
// those days in layout 3 only: the API, export and status say they were never sealed, and
// the scheduler would seal them again. Before, a whole-store verify passed (it reads every
// key, whatever the marker says); now a layout-2 manifest of a day at or after the
// marker's since is a problem naming the marker.
func TestMarkerHidingOldDaysReported(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := sealDays(t, newFSStore(t, root), root, 5, 3)
	if rep := a.full(t, Options{}); !rep.OK() {
		t.Fatalf("before: %q", rep.Problems)
	}
	b := []byte(`{"version":3,"since":"2020-01-01"}` + "\n")
	if err := a.store.Create(ctx, archiver.LayoutKey, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := fsstore.New(root) // a new process: the marker is read again
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if m, err := (ledger.Ledger{Store: s}).Latest(ctx, acme, a.days[1]); err != nil || m != nil {
		t.Fatalf("Latest of %s with the marker: %v, %v; the test expects the day hidden", a.days[1], m, err)
	}
	rep, err := Run(ctx, ledger.Ledger{Store: s}, Options{TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, archiver.LayoutKey) && strings.Contains(p, archiver.ChainKey(acme, 2))
	}) {
		t.Fatalf("problems %q, want one naming %s and the hidden manifests", rep.Problems, archiver.LayoutKey)
	}
	reliability.Record(t, "security", "a layout marker created in a layout-2 store with a since before its sealed days (hiding them from readers)", reliability.CleanFailure,
		"verify exit 1: each layout-2 manifest of a day at or after the marker's since is a problem naming the marker")
}
