package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"maps"
	"runtime"
	"sync"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// arenaProbe records the memory the sort's arenas hold outside the Go heap whenever the
// writer stores an object: that is, during the merge.
type arenaProbe struct {
	archiver.Store
	mu      sync.Mutex
	creates int
	most    int64
}

func (p *arenaProbe) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	p.mu.Lock()
	p.creates++
	p.most = max(p.most, archiver.SortArenaBytes())
	p.mu.Unlock()
	return p.Store.Create(ctx, key, body, size, sum, opt)
}

// TestMergeHoldsNoArena seals a day that spills within a budget that has no room for its
// last runs beside the heap: the merge reads the runs back from disk, so the arenas they
// were sorted in (three quarters of export.sortMemory, 192 MiB by default) are spilled
// and unmapped before it, and the writer's heap, which grows with the organizations it
// commits, gets the budget they held (TestMergeKeepsLastRunsThatFit: when it has room).
func TestMergeHoldsNoArena(t *testing.T) {
	logDir := generated(t, 20_000, 0)
	f := newFixture(t, logDir)
	p := &arenaProbe{Store: f.store}
	const budget = 4 << 20
	// One worker, so its one sorter spills: with two, a loaded machine could leave one
	// worker so few lines that its sorter never spilled, and such a sorter keeps its small
	// run in its arena by design (releaseArenas), which failed the test now and then.
	s := &archiver.Sealer{Source: f.src, Store: p, Chain: ledger.Ledger{Store: p}, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: budget, Workers: 1, Now: fixedClock, Generator: "chatvault test",
	}}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs == 0 || p.creates == 0 {
		t.Fatalf("%d runs spilled, %d objects stored: the day must spill and store for the test to mean anything", res.Runs, p.creates)
	}
	t.Logf("%d runs spilled; arenas held during the merge: at most %d bytes", res.Runs, p.most)
	if p.most != 0 {
		t.Fatalf("the sort's arenas held %d bytes while the writer stored objects, want 0", p.most)
	}
	if left := archiver.SortArenaBytes(); left != 0 {
		t.Fatalf("%d bytes of arenas still mapped after the seal", left)
	}
	reliability.Record(t, "operations", "seal: sort arenas held during the merge", reliability.Kept,
		"none once the day has spilled and the budget has no room for the last runs beside the heap: they are spilled like the others and the arenas unmapped before the merge, so the writer's heap gets the budget they held (was three quarters of export.sortMemory)")
}

// scanProbe records the sort's arenas when the partition's scan starts: they are mapped
// by then, at the size they keep for the whole read.
type scanProbe struct {
	archiver.Source
	arenas int64
}

func (p *scanProbe) Scan(ctx context.Context, day archiver.Day, fn func(archiver.Line) error) ([]archiver.IgnoredFile, error) {
	p.arenas = archiver.SortArenaBytes()
	return p.Source.Scan(ctx, day, fn)
}

// TestSortLeavesRoomForTheLiveHeap seals with 64 MiB of the process's heap live (as a
// directory of 50,000 organizations holds about 80 MB): export.sortMemory is the budget
// of the whole process, so the sort's arenas get what the live heap and the read's
// working heap leave, not three quarters of the budget whatever else is held.
func TestSortLeavesRoomForTheLiveHeap(t *testing.T) {
	logDir := generated(t, 2_000, 0)
	f := newFixture(t, logDir)
	const budget, live = 160 << 20, 64 << 20
	ballast := make([]byte, live)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	p := &scanProbe{Source: f.src}
	var reported []int64
	s := &archiver.Sealer{Source: p, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
		TempDir: t.TempDir(), SortMemory: budget, Workers: 2, Now: fixedClock, Generator: "chatvault test",
		OnSortMemory: func(arenas int64) { reported = append(reported, arenas) },
	}}
	if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(ballast)
	t.Logf("budget %d MiB, %d MiB live: the arenas got %d MiB; reported %v", budget>>20, live>>20, p.arenas>>20, reported)
	// The heap keeps at least its 16 MiB working share beside what is live.
	if most := int64(budget - live - 16<<20); p.arenas > most {
		t.Fatalf("the sort's arenas got %d MiB beside %d MiB of live heap, want at most %d MiB (the budget, %d MiB, less the live heap and 16 MiB to work in)",
			p.arenas>>20, live>>20, most>>20, budget>>20)
	}
	// This small day never spills: its sorters keep their records for the merge, and
	// count only what they touched from then on.
	if len(reported) != 3 || reported[0] != p.arenas || reported[1] > 2*4<<20 || reported[2] != 0 {
		t.Fatalf("OnSortMemory reported %v, want the arenas (%d) when mapped, then at most the 4 MiB each of the two sorters keeps for the merge, then 0 after the seal", reported, p.arenas)
	}
	reliability.Record(t, "operations", "seal: sort arenas beside a large live heap (directory)", reliability.Kept,
		"the arenas get the budget less the live heap measured when the seal starts and the read's working share, so the process stays within export.sortMemory (was three quarters of it whatever the directory held)")
}

func TestSortArenas(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		budget, live, arenas, heapDuring, heapMerge int64
	}{
		{256 * mib, 2 * mib, 186 * mib, 50 * mib, 236 * mib},   // 50 organizations
		{256 * mib, 81 * mib, 107 * mib, 129 * mib, 236 * mib}, // 50,000 organizations
		{256 * mib, 300 * mib, 64 * mib, 172 * mib, 236 * mib}, // a directory over budget: a quarter
		{1 << 30, 2 * mib, 762 * mib, 242 * mib, 1004 * mib},   // the heap keeps its working share
		{64 << 10, 0, 48 << 10, 16 * mib, 16 * mib},            // tests' tiny budgets keep three quarters
	} {
		arenas := archiver.SortArenas(tt.budget, tt.live)
		during, merge := archiver.HeapLimit(tt.budget, arenas), archiver.HeapLimit(tt.budget, 0)
		if arenas != tt.arenas || during != tt.heapDuring || merge != tt.heapMerge {
			t.Errorf("budget %d MiB, live %d MiB: arenas %d, heap limit %d while they are mapped, %d after; want %d, %d, %d (MiB)",
				tt.budget/mib, tt.live/mib, arenas/mib, during/mib, merge/mib, tt.arenas/mib, tt.heapDuring/mib, tt.heapMerge/mib)
		}
	}
}

// TestMergeKeepsLastRunsThatFit seals a day whose one sorter spills once and holds a
// last run that the budget has room for beside the writer's heap: that run stays in its
// arena for the merge instead of being written out and read back. The same day sealed
// beside a live heap that leaves no such room spills it, as before, and gives the arena
// back; both seals export the same bytes. The live heap is set, not measured, so that
// what the test process holds does not decide it.
func TestMergeKeepsLastRunsThatFit(t *testing.T) {
	// 80,000 events fill the one sorter's 32 MiB once and leave it about 9 MiB, which a
	// 64 MiB budget has room for beside an empty heap (28 MiB) but not beside 40 MiB.
	logDir := generated(t, 80_000, 0)
	const budget = 64 << 20
	seal := func(live int64) (*archiver.DayResult, int64, map[string][]byte) {
		f := newFixture(t, logDir)
		archiver.SetLiveHeap(t, live)
		p := &arenaProbe{Store: f.store}
		s := &archiver.Sealer{Source: f.src, Store: p, Chain: ledger.Ledger{Store: p}, Options: archiver.Options{
			TempDir: t.TempDir(), SortMemory: budget, Workers: 1, Now: fixedClock, Generator: "chatvault test",
		}}
		res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
		if err != nil {
			t.Fatal(err)
		}
		if left := archiver.SortArenaBytes(); left != 0 {
			t.Fatalf("%d bytes of arenas still mapped after the seal", left)
		}
		return res, p.most, f.exports(t, res)
	}
	kept, keptArena, keptExports := seal(0)
	// 40 MiB live leaves the arena its 32 MiB (the least, minSortArenas) but no room
	// for the last run beside the writer's heap.
	spilt, spiltArena, spiltExports := seal(40 << 20)
	t.Logf("room: %d runs, %d bytes spilled, %d bytes of arena held in the merge; no room: %d runs, %d bytes, %d",
		kept.Runs, kept.SpilledBytes, keptArena, spilt.Runs, spilt.SpilledBytes, spiltArena)
	if kept.Runs != 1 || spilt.Runs != 2 {
		t.Fatalf("%d runs spilled with room for the last, %d without; want 1 and 2 (one spilled while reading, the last kept or spilled)", kept.Runs, spilt.Runs)
	}
	if keptArena == 0 || keptArena > budget/2 || spiltArena != 0 {
		t.Fatalf("arenas held during the merge: %d bytes with room, %d without; want the last run's (0 < n <= %d) and 0", keptArena, spiltArena, budget/2)
	}
	if kept.SpilledBytes >= spilt.SpilledBytes {
		t.Fatalf("%d bytes spilled with room for the last run, %d without: keeping it must spill less", kept.SpilledBytes, spilt.SpilledBytes)
	}
	if !maps.EqualFunc(keptExports, spiltExports, bytes.Equal) || len(keptExports) == 0 {
		t.Fatal("the exports differ between the seal that kept its last run and the one that spilled it")
	}
	reliability.Record(t, "operations", "seal: the sort's last runs through the merge", reliability.Kept,
		"kept in their arenas when export.sortMemory has room for them beside the live heap, the heap's working share and the writer's per-organization heap (a 1M-event day spills 4 runs, was 6 and 40% more bytes); spilled and unmapped when it has not; the exports are the same bytes")
}

// TestSortLeavesRoomForTheWorkers: each worker, and each of the runtime's processors, holds
// heap the live heap measured at the start does not show yet (batches, decoders,
// compressors, allocation caches). On a host of many CPUs, 32 workers and GOMAXPROCS 64 put
// a 1M-event day 28 MiB over export.sortMemory; their share now comes out of the arenas.
func TestSortLeavesRoomForTheWorkers(t *testing.T) {
	logDir := generated(t, 2_000, 0)
	const budget = 256 << 20
	archiver.SetLiveHeap(t, 0)
	arenas := func(workers, procs int) int64 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		f := newFixture(t, logDir)
		p := &scanProbe{Source: f.src}
		s := &archiver.Sealer{Source: p, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{
			TempDir: t.TempDir(), SortMemory: budget, Workers: workers, Now: fixedClock, Generator: "chatvault test",
		}}
		if _, err := s.Seal(context.Background(), sampleDay, f.directory, ""); err != nil {
			t.Fatal(err)
		}
		return p.arenas
	}
	one, many := arenas(1, 1), arenas(32, 64)
	// 31 more workers at 1 MiB and 63 more processors at 800 KiB: 80.2 MiB less (the arenas
	// are rounded to whole sorter shares).
	if d := one - many; d < 79<<20 || d > 82<<20 {
		t.Fatalf("arenas %d MiB with one worker, %d MiB with 32 workers on 64 processors: %d MiB less, want about 80",
			one>>20, many>>20, d>>20)
	}
	reliability.Record(t, "operations", "seal on a host of many CPUs (32 workers, GOMAXPROCS 64): memory beside the sort", reliability.Kept,
		"the workers' and processors' heap (1 MiB a worker, 800 KiB a processor, measured) comes out of the sort's arenas: a 1M-event day peaked at 238.5 MiB under a 256 MiB export.sortMemory, where it reached 282.2 MiB")
}
