package archiver_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/reliability"
)

// retainedByResult seals a generated day of orgs organizations in layout 3 and returns how
// many bytes of live heap the DayResult alone keeps (the heap after a collection with the
// result held, less the heap after one without it) and its organizations.
func retainedByResult(t *testing.T, orgs int) (bytes int64, n int) {
	t.Helper()
	logDir := t.TempDir()
	day := mustDay("2026-11-22")
	if _, err := synth.Generate(context.Background(), logDir, synth.Options{Day: day, Events: 20 * orgs, Orgs: orgs, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	streamed, whole := 0, 0
	s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
		Layout: archiver.Layout3, TempDir: t.TempDir(), SortMemory: 16 << 20, Now: fixedClock, Generator: "chatvault test",
		// Each organization's whole result is streamed (and not kept here).
		OrgDone: func(o archiver.OrgResult) {
			streamed++
			if o.ChatIndex != nil && (o.Data.Records == 0 || o.Data.Key != "") {
				whole++
			}
		},
	}}
	res, err := s.Seal(context.Background(), day, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed()) > 0 {
		t.Fatalf("failed: %+v", res.Failed())
	}
	n = len(res.Orgs)
	if streamed != n || whole != n {
		t.Fatalf("%d organizations, %d results streamed, %d of them whole (with their chat index and data key)", n, streamed, whole)
	}
	for _, o := range res.Orgs {
		if o.ChatIndex != nil || o.Data.Key != "" || o.Data.SHA256 != "" || o.Outcome != archiver.OutcomeCommitted {
			t.Fatalf("%s: the day's result keeps %+v; want its summary", o.Org, o)
		}
	}
	with := liveHeapNow()
	runtime.KeepAlive(res)
	res = nil
	without := liveHeapNow()
	return int64(with) - int64(without), n
}

func liveHeapNow() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestDayResultRetainedPerOrg counts the live heap a seal's DayResult keeps per
// organization until its caller (run's summary, the scheduler's metrics) is done with it:
// measured at two organization counts, the difference per further organization.
func TestDayResultRetainedPerOrg(t *testing.T) {
	if testing.Short() {
		t.Skip("seals two generated days")
	}
	fewBytes, few := retainedByResult(t, 20)
	manyBytes, many := retainedByResult(t, 620)
	if many-few < 300 {
		t.Fatalf("%d and %d archiving organizations: the generator changed", few, many)
	}
	per := float64(manyBytes-fewBytes) / float64(many-few)
	t.Logf("%d orgs: %d B kept by the result; %d orgs: %d B; %.0f B per further organization", few, fewBytes, many, manyBytes, per)
	const maxPerOrg = 500
	if per > maxPerOrg {
		t.Fatalf("the day's result keeps %.0f B per organization, want at most %d", per, maxPerOrg)
	}
	reliability.Record(t, "operations", "seal: the day's result kept per organization", reliability.Kept,
		"at most 500 B of live heap per organization until the run's summary is printed: what the summary, the metrics and the exit code need; each organization's whole result is streamed as it is settled (Options.OrgDone)")
}
