package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/archiver/verifyloop"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadyDoesNotGrowWithTheLeases: /readyz, probed every few seconds, checks that the
// store answers with a listing of leases/. The verification lease adds a link every
// verify.interval (8,760 a year with hourly slices): the probe must not list them all.
func TestReadyDoesNotGrowWithTheLeases(t *testing.T) {
	t.Parallel() // its own folder stores: no environment, no hooks
	for _, links := range []int{0, 10, 200} {
		t.Run(fmt.Sprint(links), func(t *testing.T) {
			fs, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			ctx := context.Background()
			for i := range links {
				b := []byte(`{}`)
				key := fmt.Sprintf("%s%012d.json", verifyloop.LeasePrefix, i+1)
				if err := fs.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			store := storetest.NewCounting(fs)
			if err := storeReachable(ctx, store); err != nil {
				t.Fatal(err)
			}
			if n := store.Counts(); n["Keys"] > 1 || n.Requests() != 1 {
				t.Fatalf("%d lease links: the readiness check listed %d keys in %d requests; want one request, at most one key", links, n["Keys"], n.Requests())
			}
		})
	}
	reliability.Record(t, "operations", "/readyz on a store whose leases/ holds a long lease chain", reliability.Kept,
		"the probe's store check stops at the first key of leases/: its cost does not grow with the lease links")
}
