package archiver

import (
	"cmp"
	"runtime"
	"runtime/metrics"
	"slices"

	"github.com/chatvault/chatvault/internal/panics"
)

// outsideHeap is the part of a run's resident memory that neither the sort's arenas nor
// the Go runtime's soft memory limit account for: mostly the binary's own pages (about
// 18 MiB).
const outsideHeap = 20 << 20

// SortArenas returns the bytes the external sort's arenas get out of a run's memory
// budget (export.sortMemory) when live bytes of the Go heap are in use as the seal starts:
// the directory, the router's index of it, whatever else the process holds.
//
// The budget is the whole process's. The arenas get what is left once the live heap, the
// part outside the heap and the heap's working share (SplitMemory's heap, which the read
// phase needs for lines, batches and decoding) are counted, and never more than three
// quarters of the budget; never less than a quarter (nor than 32 MiB, see minSortArenas), so that a directory that leaves less
// still seals (over budget: the log says so) without a flood of tiny runs. A 50-organization day (2 MiB live) gives
// 186 MiB of 256; a directory of 50,000 organizations (80 MiB live) about 108 MiB.
func SortArenas(budget, live int64) int64 {
	_, working := SplitMemory(budget)
	arenas := min(budget/4*3, budget-outsideHeap-live-working)
	return max(arenas, budget/4, min(budget/4*3, minSortArenas))
}

// minSortArenas: below this, arenas are not cut for the live heap; a budget that small
// (tests force spills with a few KiB) cannot hold the process anyway, and smaller arenas
// cost more in runs than they save.
const minSortArenas = 32 << 20

// HeapLimit returns the Go runtime's soft memory limit that keeps a run within budget
// while the sort's arenas hold arenas bytes outside the heap: the heap gets the rest. The
// merge runs with the arenas unmapped, so the heap then gets nearly all of it.
func HeapLimit(budget, arenas int64) int64 {
	return max(budget-outsideHeap-arenas, 16<<20)
}

// liveHeapBytes returns the bytes of the Go heap still in use: what the sort's arenas
// must leave room for. The last collection measured it; when more than staleHeap was
// allocated since (the directory was just decoded), it collects first to know.
func liveHeapBytes() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	live, objects := int64(s[0].Value.Uint64()), int64(s[1].Value.Uint64())
	if objects-live <= staleHeap {
		return live
	}
	runtime.GC()
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// measureLiveHeap is liveHeapBytes but in tests, which set what the heap holds beside
// the seal rather than depend on what the test process holds (export_test.go).
var measureLiveHeap = liveHeapBytes

// staleHeap is how far the live heap measured by the last collection may be behind before
// the seal collects to measure it again: a forced collection costs a few milliseconds per
// 10 MB live, and a seal of a small day (every test) should not pay it.
const staleHeap = 16 << 20

// sortArenas returns the bytes the seal's sort gets (SortArenas) beside the heap live now
// and what the workers and the runtime's processors will hold (workersHeap).
func (s *Sealer) sortArenas() int64 {
	live, workers := measureLiveHeap(), workersHeap(s.Workers, runtime.GOMAXPROCS(0))
	arenas := SortArenas(s.SortMemory, live+workers)
	_, working := SplitMemory(s.SortMemory)
	s.Logger.Debug("sort memory", "sortMemory", s.SortMemory, "liveHeap", live, "workersHeap", workers, "sortArenas", arenas,
		"withinBudget", live+workers+working+arenas+outsideHeap <= s.SortMemory)
	return arenas
}

// workersHeap is what a seal's workers and the Go runtime's processors come to hold
// beside the heap live when it starts: each worker its batches, decoder and compressor,
// each processor (GOMAXPROCS) its allocation caches and GC work. Measured on a 1M-event
// day: peak RSS grew 1 MiB a worker from 2 to 32 workers, and 0.8 MiB a processor from
// GOMAXPROCS 2 to 64. Counted as live heap, it comes out of the sort's arenas, so that a
// host of many CPUs stays within export.sortMemory (32 workers were 2 MiB over it, and
// GOMAXPROCS 64 28 MiB over).
func workersHeap(workers, procs int) int64 {
	return int64(workers)<<20 + int64(procs)*(800<<10)
}

// reportSortMemory hands the arenas' bytes now to Options.OnSortMemory.
func (s *Sealer) reportSortMemory() {
	if s.OnSortMemory != nil {
		s.OnSortMemory(sortArenaBytes.Load())
	}
}

// heapPerOrg is the heap the writer keeps for each organization it commits until the day
// is done: 1,700 to 2,080 bytes measured, at most 3,000 allowed (TestSealHeapPerOrg), with room to spare.
const heapPerOrg = 4 << 10

// mergeRoom returns how many bytes of the budget the sorters may keep holding through the
// merge: what is left once the heap live now, the part outside the heap, the heap's
// working share (SplitMemory's, which the read had: the compressors, batches and run
// buffers fit in it) and heapPerOrg for each of orgs organizations are counted. The heap's
// soft limit is then the budget less what they keep (HeapLimit), which still leaves the
// writer all of that.
func (s *Sealer) mergeRoom(orgs int) int64 {
	live := measureLiveHeap()
	_, working := SplitMemory(s.SortMemory)
	room := s.SortMemory - outsideHeap - live - working - heapPerOrg*int64(orgs)
	s.Logger.Debug("merge memory", "sortMemory", s.SortMemory, "liveHeap", live, "organizations", orgs, "room", room)
	return room
}

// releaseArenas decides, before the merge, which sorters keep their last run in their
// arena and which spill it and unmap the arena, in parallel. A sorter that never spilled
// and holds at most keepInMemory keeps it, as such a sorter touched only what it holds;
// the others keep theirs, the largest first, while the records they hold fit in room
// (mergeRoom), and give back the pages of their arenas the records do not use. Spilling a
// last run that fits costs writing it and reading it back (345 MB at 1M events); one that
// does not fit is spilled so that the writer's heap, which grows with the organizations
// it commits, gets the memory its arena held instead of the budget counting both.
func releaseArenas(sorters []*sorter, room int64) error {
	keep := make([]bool, len(sorters))
	for i, so := range sorters {
		if so.s.Runs() == 0 && so.s.Held() <= keepInMemory {
			keep[i] = true
			room -= int64(so.s.Held())
		}
	}
	order := make([]int, 0, len(sorters))
	for i := range sorters {
		if !keep[i] {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(sorters[b].s.Held(), sorters[a].s.Held()) })
	for _, i := range order {
		if held := int64(sorters[i].s.Held()); held <= room {
			keep[i] = true
			room -= held
		}
	}
	errs := make(chan error, len(sorters))
	n := 0
	for i, so := range sorters {
		if keep[i] {
			for _, b := range so.s.Spare() {
				discardPages(b)
			}
			so.account(int64(so.s.Held()))
			continue
		}
		n++
		go func() {
			var err error
			defer func() { errs <- err }()
			defer panics.Recover(&err) // a panic (a bug) is the release's error
			if err = so.s.Release(); err == nil {
				so.freeArena()
			}
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
