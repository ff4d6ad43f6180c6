package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// forkedStore returns a fixture whose Acme chain forked: 2026-11-23 and 2026-11-24 sealed
// on the same head (a sealer paused past the seal lease's TTL between its fence and its
// commit, the window the fence leaves), the second failed with the fork.
func forkedStore(t *testing.T) *fixture {
	t.Helper()
	logDir := layout3Log(t)
	f := newFixture(t, logDir)
	ctx := context.Background()
	mustSeal3(t, f, f.store, "2026-11-22")
	g := &gatedStore{Store: &storeHandle{f.store}, reached: make(chan struct{}), release: make(chan struct{}),
		gate: func(key string) bool {
			return strings.HasPrefix(key, archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24"))+"r")
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := &archiver.Sealer{Source: f.src, Store: g, Chain: ledger.Ledger{Store: g}, Options: archiver.Options{Layout: archiver.Layout3, Now: layout3Clock, TempDir: t.TempDir()}}
		s.Seal(ctx, mustDay("2026-11-24"), f.directory, acmeOrg)
	}()
	<-g.reached
	mustSeal3(t, f, &storeHandle{f.store}, "2026-11-23")
	close(g.release)
	<-done
	return f
}

// TestForkRecoveryByDeletingTheFailedDay: a fork (the residual window a paused sealer
// leaves, or two sealers without the lease) makes verify fail for good: chatvault never
// deletes a manifest. Where the storage lets the operator delete out of band (a folder, a
// bucket without Object Lock or in governance mode), the recovery the README gives: delete
// the manifest of the day whose seal failed with "forked the chain", before any later day
// is sealed on it, and seal that day again: the chain is whole and verify passes.
func TestForkRecoveryByDeletingTheFailedDay(t *testing.T) {
	f := forkedStore(t)
	ctx := context.Background()
	rep, err := verify.Run(ctx, ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "fork") {
		t.Fatalf("verify of the forked chain: %v, %v; want the fork reported", rep.Problems, err)
	}
	failed, msg, err := ledger.Ledger{Store: f.store}.Failed(ctx, acmeOrg, mustDay("2026-11-24"))
	if err != nil || !failed || !strings.Contains(msg, "forked") {
		t.Fatalf("the failed day's record: %v %q %v", failed, msg, err)
	}
	// The store refuses to delete a manifest (write-once): the operator removes it out of
	// band, with the storage's own tools (here the folder's file; on S3 a version delete
	// that only a bucket without Object Lock, or in governance mode, allows).
	key := archiver.DayPrefix3(acmeOrg, mustDay("2026-11-24")) + "r0001.json"
	if err := os.Remove(filepath.Join(f.storeDir, filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
	res := sealWith(t, f, f.store, "2026-11-24", archiver.Options{Layout: archiver.Layout3})
	for _, o := range res.Orgs {
		if o.Err != nil {
			t.Fatalf("the day sealed again: %s: %v", o.Org, o.Err)
		}
	}
	rep, err = verify.Run(ctx, ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the recovery: %v, %v", rep.Problems, err)
	}
	reliability.Record(t, "operations", "a fork in an organization's chain (a sealer paused between its lease check and its commit)", reliability.Recovered,
		"verify reports it on every run; the operator deletes the manifest of the day that failed with \"forked the chain\" out of band, before a later day is sealed on it, and seals the day again: verify passes")
}
