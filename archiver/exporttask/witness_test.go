package exporttask_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEmptiedStoreTaskWitnessed: an organization's sealed days are deleted from the store.
// A task over them found no manifest and answered as for days not sealed yet (409
// export_pending, or no sealed day to default "to" to), and a task created before the
// deletion failed with "not sealed": a deletion read as "nothing sealed". With the
// witness kept outside the store (verify.witness, Engine.Witnessed, as serve's day
// endpoints check it), each is the witness's error, ledger.ErrBehindWitness.
func TestEmptiedStoreTaskWitnessed(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  exporttask.Request
	}{
		{"from and to", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}},
		{"to by default", exporttask.Request{From: days[0], Format: "jsonl"}},
		{"since alone", exporttask.Request{Since: "2026-11-22T00:00:00Z", Format: "jsonl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			store, err := fsstore.New(root)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			f := &fixture{store: store, dir: sealSample(t, store, nil), clock: newFixture(t).clock}
			e := f.engine(t, nil)
			w := witness(t, store)
			e.Witnessed = func(ctx context.Context, org string) error {
				return ledger.Ledger{Store: store}.CheckWitnessed(ctx, w, org)
			}
			before, err := e.Create(context.Background(), acme, "test", tc.req) // days deleted while it waits
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(root, "orgs", acme)); err != nil {
				t.Fatal(err)
			}
			_, err = e.Create(context.Background(), acme, "test", tc.req)
			if !errors.Is(err, ledger.ErrBehindWitness) {
				t.Fatalf("Create over the deleted days = %v, want %v", err, ledger.ErrBehindWitness)
			}
			st, _ := attachtest.Execute(t, e, acme, before)
			if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "witness") {
				t.Fatalf("task created before the deletion: %s %q, want failed naming the witness", st.State, st.Error)
			}
		})
	}
	reliability.Record(t, "security", "an export task over days deleted from the store (created after, or waiting before), with verify.witness", reliability.CleanFailure,
		"the organization's chain is checked against the witness before a day without a manifest is answered as not sealed: Create is refused 500 internal, logged, not 409 export_pending; a task that was queued fails naming the witness")
}

// witness returns a witness of store's chain heads now.
func witness(t *testing.T, store archiver.Store) *archiver.Witness {
	t.Helper()
	heads, err := ledger.Ledger{Store: store}.Heads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := archiver.NewWitness(heads, nil, "test", time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := archiver.ParseWitness(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
