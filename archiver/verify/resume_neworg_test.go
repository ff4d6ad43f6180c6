package verify

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestResumeWalksOrganizationsNotInCheckpoint: a full verification with --checkpoint was
// interrupted after Globex, and the organization list changed before --resume: Acme,
// whose id sorts before Globex, is not in the checkpoint (added since, or left out for a
// problem). The resumed verification walks it; before the fix it skipped every
// organization up to the checkpoint's last, and reported Acme's sound chain as "has no
// manifest ... objects were deleted".
func TestResumeWalksOrganizationsNotInCheckpoint(t *testing.T) {
	ctx := context.Background()
	a := newArchive(t, 3)
	rep := a.full(t, Options{})
	cp, err := ReadCheckpoint(ctx, a.store, rep.Wrote, []ed25519.PublicKey{a.pub()})
	if err != nil {
		t.Fatal(err)
	}
	var orgs []CheckpointOrg
	for _, o := range cp.Orgs {
		if o.Org == globex {
			orgs = append(orgs, o)
		}
	}
	cp.Orgs, cp.Complete, cp.After, cp.Kind = orgs, false, globex, "full"
	cp.Created, cp.Tally = a.next.Start().Add(time.Hour), map[string]int{}
	for day, n := range map[string]int{"2026-11-01": 1, "2026-11-02": 1, "2026-11-03": 1} {
		cp.Tally[day] = n // Globex's manifests
	}
	if err := WriteCheckpoint(ctx, a.store, cp, a.key); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, ledger.Ledger{Store: a.store}, Options{Resume: true, TrustedKey: a.pub(), Directory: a.dir,
		CheckpointKey: a.key, Now: clockAt(a.next.Start().Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Resumed != 1 || rep.Checkpoint != cp.Key {
		t.Fatalf("resumed: problems %q, resumed %d from %q", rep.Problems, rep.Resumed, rep.Checkpoint)
	}
	done, err := ReadCheckpoint(ctx, a.store, rep.Wrote, []ed25519.PublicKey{a.pub()})
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Orgs) != 2 || !done.Complete {
		t.Fatalf("the resumed verification's checkpoint: %+v", done)
	}
	reliability.Record(t, "operations", "verify --resume after an organization sorting before the checkpoint's last was added", reliability.Kept,
		"the organizations the checkpoint does not hold are walked, whatever their place; the final checkpoint holds every one")
}
