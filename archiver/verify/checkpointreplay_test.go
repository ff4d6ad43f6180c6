package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCheckpointReplayRefused: whoever can write to the store (without the signing key)
// copies an old, validly signed checkpoint under a newer key. Checkpoints are chosen by
// key (key order is time order), so before, the copy was the newest and was used: its
// sample cursor sent the rotating sample back where the attacker chose, run after run
// (an old day changed past that point was never sampled), and it cannot be prevented by
// Object Lock, since it is a create. The key names the time the checkpoint was made,
// and Created, under the signature, must be that time: a copy under another time is
// refused (a problem) and the newest genuine checkpoint is used.
func TestCheckpointReplayRefused(t *testing.T) {
	t.Run("folder", func(t *testing.T) { checkpointReplay(t, newFSStore(t, t.TempDir())) })
	t.Run("minio with Object Lock", func(t *testing.T) {
		if testing.Short() {
			t.Skip("MinIO (-short)")
		}
		srv := miniotest.Start(t)
		st, err := s3.NewStore(t.Context(), srv.Client(), srv.Bucket(t, true), "cv", s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkpointReplay(t, st)
	})
}

func checkpointReplay(t *testing.T, store archiver.Store) {
	ctx := context.Background()
	a := sealDays(t, store, "", 4, 2)
	first := a.full(t, Options{})
	old, err := archiver.ReadAll(ctx, a.store, first.Wrote)
	if err != nil {
		t.Fatal(err)
	}
	a.sealNext(t)
	clock := clockAt(a.next.Start().Add(time.Hour))
	inc := a.full(t, Options{Incremental: true, Sample: 1, Now: clock})
	if !inc.OK() || inc.Checkpoint != first.Wrote || inc.Wrote == "" {
		t.Fatalf("incremental: problems %q, from %q, wrote %q", inc.Problems, inc.Checkpoint, inc.Wrote)
	}
	replay := checkpointKey(a.next.Start().Add(3 * time.Hour))
	if err := a.store.Create(ctx, replay, bytes.NewReader(old), int64(len(old)), sha256.Sum256(old), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := a.full(t, Options{Incremental: true, Sample: 1, Now: clockAt(a.next.Start().Add(4 * time.Hour))})
	if rep.Checkpoint != inc.Wrote {
		t.Errorf("started from %q, want the newest genuine checkpoint %q (the replay is %q)", rep.Checkpoint, inc.Wrote, replay)
	}
	if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, replay) && strings.Contains(p, "refused") }) {
		t.Errorf("problems %q, want one refusing the replayed %s", rep.Problems, replay)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "an old signed verification checkpoint copied under a newer key (replay)", reliability.Refused,
		"a checkpoint whose signed creation time is not the time its key names is a problem and not used; the newest genuine one is")
}
