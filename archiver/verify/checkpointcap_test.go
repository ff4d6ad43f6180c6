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
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCheckpointOversized: someone with write access to the store puts a 256 MiB object
// under a checkpoint key newer than the last real one. verify --incremental reads the
// newest checkpoint: it must refuse that one as a problem (naming the key, the kind and
// the cap), reading no more than the cap, and start from the valid checkpoint before it,
// not stop the verification with an error.
func TestCheckpointOversized(t *testing.T) {
	a := sealDays(t, newFSStore(t, t.TempDir()), "", 3, 2)
	a.root = rootOf(a)
	first := a.full(t, Options{})
	key := checkpointKey(a.next.Start().Add(30 * 24 * time.Hour)) // after every real one
	stub := []byte("{}")
	if err := a.store.Create(context.Background(), key, bytes.NewReader(stub), int64(len(stub)), sha256.Sum256(stub), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	over := &storetest.Oversized{Store: a.store, Sizes: map[string]int64{key: 256 << 20}}
	a.store = over
	a.sealNext(t)
	rep := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(48 * time.Hour))})
	kind, max := archiver.ObjectKind(key)
	if rep.Checkpoint != first.Wrote {
		t.Errorf("started from %q, want the valid checkpoint %q", rep.Checkpoint, first.Wrote)
	}
	if !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, key) && strings.Contains(p, kind+" larger than its cap")
	}) {
		t.Errorf("problems %q, want one naming %s as a %s over its cap", rep.Problems, key, kind)
	}
	if over.Served() > 2*(max+1) {
		t.Errorf("read %d bytes of the oversized checkpoint (cap %d)", over.Served(), max)
	}
	reliability.Record(t, "security", "a 256 MiB object put under a verification checkpoint's key", reliability.Refused,
		"verify --incremental reports it (key, kind, 64 MiB cap) as a problem, reads no more than the cap, and starts from the newest valid checkpoint")
}
