package httpapi_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEmptiedStoreNotServedAsPending: someone who can delete from the store removes every
// sealed day (orgs/, the slice records of the continuous verification too). Before, serve
// answered the sealed day 409 export_pending ("not sealed yet", retry later) and listed
// it as pending: an emptied store was served as "nothing sealed", and only a verify run
// with the witness, outside serve, could tell. With the witness (verify.witness), a day
// the store has no manifest of is checked against the organization's witnessed chain
// head: the store holds less of that chain than the witness, so the export, the manifest
// and the listing answer 500 internal, logged for the operator, not pending. A day not
// sealed yet of an intact store stays 409 pending.
func TestEmptiedStoreNotServedAsPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var witnessed func(context.Context, string) error
	f := newFixtureOn(t, store, func(s *httpapi.Server) {
		s.Witnessed = func(ctx context.Context, org string) error { return witnessed(ctx, org) }
	})
	l := ledger.Ledger{Store: store}
	heads, err := l.Heads(ctx)
	if err != nil || len(heads) == 0 {
		t.Fatalf("heads: %v %v", heads, err)
	}
	w := &archiver.Witness{Version: archiver.WitnessVersion, Heads: heads}
	tok := f.tokens["acme"]

	// An intact store: today is pending, whatever the witness.
	witnessed = func(ctx context.Context, org string) error { return l.CheckWitnessed(ctx, w, org) }
	resp, body := f.export(t, tok, date("2026-11-23"))
	checkError(t, resp, body, 409, "export_pending")

	if err := os.RemoveAll(filepath.Join(dir, "orgs")); err != nil {
		t.Fatal(err)
	}
	// Without the witness: the sealed day reads as not sealed yet (the hole).
	witnessed = func(context.Context, string) error { return nil }
	resp, body = f.export(t, tok, date(sample))
	checkError(t, resp, body, 409, "export_pending")

	witnessed = func(ctx context.Context, org string) error { return l.CheckWitnessed(ctx, w, org) }
	resp, body = f.export(t, tok, date(sample))
	checkError(t, resp, body, 500, "internal")
	resp, body = get(t, f.url+"/v1/exports/"+sample+"/manifest", tok)
	checkError(t, resp, body, 500, "internal")
	resp, body = get(t, f.url+"/v1/exports?from=2026-11-20&to=2026-11-23", tok)
	checkError(t, resp, body, 500, "internal")
	reliability.Record(t, "security", "a store emptied of its sealed days (and of the continuous verification's records), served by serve with verify.witness", reliability.CleanFailure,
		"a day without a manifest is checked against the organization's witnessed chain head: the export, the manifest and the listing answer 500 internal, logged, instead of 409 export_pending")
}
