package verifyloop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEmptiedStoreFails: someone deletes the organizations' days from the store (every
// object under orgs/). The slices list the store's sealed organization-days and verify
// those: with none left, they verified nothing and recorded passing runs. chatvault never
// deletes a sealed day, and the signed records of the earlier slices say how many the
// store held: a slice that finds fewer fails, naming the deletion, on the process that
// saw the days (in memory) as on one restarted since (from the records), and every slice
// after it fails too until the days are back.
func TestEmptiedStoreFails(t *testing.T) {
	a := newArchive(t, "2026-11-22", "2026-11-23")
	c := &clock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	l := newLoop(a, c, time.Hour, time.Hour) // one slice is the whole store
	if r := l.Slice(t.Context()); !r.OK() || r.StoreOrgDays != 4 {
		t.Fatalf("first slice: %+v", r)
	}
	if err := os.RemoveAll(filepath.Join(a.root, "orgs")); err != nil {
		t.Fatal(err)
	}
	deleted := func(r *Record) bool {
		return slices.ContainsFunc(r.ProblemDetails, func(p string) bool { return strings.Contains(p, "deleted") })
	}
	for i, loop := range []*Loop{l, newLoop(a, c, time.Hour, time.Hour), newLoop(a, c, time.Hour, time.Hour)} {
		c.add(time.Hour)
		r := loop.Slice(t.Context())
		if r.OK() || r.Problems == 0 || !deleted(r) || r.StoreOrgDays != 0 {
			t.Fatalf("slice %d after the days were deleted: %+v; want problems naming the deletion", i+2, r)
		}
	}
	reliability.Record(t, "security", "every organization's days deleted from the store, under serve's continuous verification", reliability.CleanFailure,
		"the slices fail (chatvault_verify_problems): the signed run records carry the most organization-days a slice found, and a store holding fewer is reported, after a restart too")
}
