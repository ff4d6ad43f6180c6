package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCheckpointSignedByRetiredKey: the signing key was rotated away from (a rotation
// statement names it as the old key), as after a suspected compromise; verification still
// trusts it, for the manifests it signed before. Whoever holds the old key could write a
// checkpoint naming the hashes of manifests they rewrote, and --incremental would skip
// them. A checkpoint signed by a retired key is not used (a warning: the checkpoints
// written before a routine rotation are the same), and the verification walks the chains
// whole and writes a checkpoint with the new key, which the next one uses.
func TestCheckpointSignedByRetiredKey(t *testing.T) {
	ctx := context.Background()
	a := newArchive(t, 3)
	if rep := a.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
		t.Fatalf("full: %q", rep.Problems)
	}
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	l := ledger.Ledger{Store: a.store}
	if _, err := l.RecordRotation(ctx, a.key, newKey, "suspected compromise", a.next.Start(), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The old key's thief writes a newer checkpoint, signed with it.
	cp, err := ReadCheckpoint(ctx, a.store, func() string {
		keys, _ := listKeys(ctx, a.store, CheckpointPrefix)
		return keys[len(keys)-1]
	}(), []ed25519.PublicKey{a.pub()})
	if err != nil {
		t.Fatal(err)
	}
	cp.Created = a.next.Start().Add(time.Hour)
	if err := WriteCheckpoint(ctx, a.store, cp, a.key); err != nil {
		t.Fatal(err)
	}
	trusted := []ed25519.PublicKey{a.pub(), newKey.Public().(ed25519.PublicKey)}
	inc := func() *Report {
		t.Helper()
		rep, err := Run(ctx, l, Options{Incremental: true, TrustedKeys: trusted, Directory: a.dir, CheckpointKey: newKey,
			Now: clockAt(a.next.Start().Add(2 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := inc()
	if rep.Checkpoint != "" {
		t.Fatalf("incremental used %s, signed by the retired key", rep.Checkpoint)
	}
	if !rep.OK() || !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "retired") }) {
		t.Fatalf("problems %q, warnings %q: want no problem and a warning about checkpoints signed by a retired key", rep.Problems, rep.Warnings)
	}
	if rep.Wrote == "" {
		t.Fatal("no checkpoint written with the new key")
	}
	rep = inc()
	if rep.Checkpoint == "" || !rep.OK() {
		t.Fatalf("the next incremental: checkpoint %q, problems %q; want the new key's", rep.Checkpoint, rep.Problems)
	}
	reliability.Record(t, "security", "verify checkpoint signed by a key a rotation statement retired (a thief of the old key)", reliability.Refused,
		"not used (a warning): the chains are walked whole and a checkpoint signed with the new key is written, which the next run uses")
}
