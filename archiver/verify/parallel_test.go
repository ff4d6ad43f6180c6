package verify

import (
	"context"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestParallelVerifySameReport: a full verification walking organizations concurrently
// reports exactly what a walk of one organization at a time reports, in the same order,
// problems included (run with -race).
func TestParallelVerifySameReport(t *testing.T) {
	const acme, globex = "0a1c2e3f-0000-4000-8000-00000000aaaa", "0b1c2e3f-0000-4000-8000-00000000bbbb"
	a := newArchive(t, 4)
	// Problems in two organizations, on several days.
	rewrite(t, a.root, findKey(t, a.root, archiver.DayPrefix(acme, a.days[1])+"events-"), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	rewrite(t, a.root, findKey(t, a.root, archiver.DayPrefix(globex, a.days[2])+"events-"), func(b []byte) []byte { b[len(b)/3] ^= 1; return b })
	remove(t, a.root, archiver.ChainKey(globex, 1))
	ctx := context.Background()
	var reports []*Report
	for _, jobs := range []int{1, 2, 8} {
		var progress []int
		rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{Jobs: jobs, TrustedKey: a.pub(), Directory: a.dir,
			Progress: func(n int) { progress = append(progress, n) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(progress) != rep.Orgs || !slices.IsSorted(progress) {
			t.Errorf("jobs %d: progress %v for %d organizations", jobs, progress, rep.Orgs)
		}
		reports = append(reports, rep)
	}
	one := reports[0]
	if len(one.Problems) < 3 || one.Orgs < 2 {
		t.Fatalf("one at a time: %d organizations, problems %q: the tampering was not found", one.Orgs, one.Problems)
	}
	for i, rep := range reports[1:] {
		if rep.Orgs != one.Orgs || rep.Manifests != one.Manifests || rep.Objects != one.Objects || rep.Bytes != one.Bytes ||
			!slices.Equal(rep.Problems, one.Problems) || !slices.Equal(rep.Warnings, one.Warnings) {
			t.Fatalf("report %d differs from one organization at a time:\n%+v\nvs\n%+v", i+1, rep, one)
		}
	}
	reliability.Record(t, "operations", "verify walking organizations concurrently (verify --jobs)", reliability.Kept,
		"the report, problems and their order included, is the one a walk of one organization at a time gives")
}
