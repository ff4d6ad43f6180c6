package archiver

import (
	"runtime"
	"runtime/metrics"
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

// staleHeap is how far the live heap measured by the last collection may be behind before
// the seal collects to measure it again: a forced collection costs a few milliseconds per
// 10 MB live, and a seal of a small day (every test) should not pay it.
const staleHeap = 16 << 20

// sortArenas returns the bytes the seal's sort gets (SortArenas) beside the heap live now.
func (s *Sealer) sortArenas() int64 {
	live := liveHeapBytes()
	arenas := SortArenas(s.SortMemory, live)
	_, working := SplitMemory(s.SortMemory)
	s.Logger.Debug("sort memory", "sortMemory", s.SortMemory, "liveHeap", live, "sortArenas", arenas,
		"withinBudget", live+working+arenas+outsideHeap <= s.SortMemory)
	return arenas
}

// reportSortMemory hands the arenas' bytes now to Options.OnSortMemory.
func (s *Sealer) reportSortMemory() {
	if s.OnSortMemory != nil {
		s.OnSortMemory(sortArenaBytes.Load())
	}
}

// releaseArenas spills, in parallel, the last run of every sorter that spilled or holds
// more than keepInMemory, and unmaps its arena: the merge then reads those runs from disk,
// and the writer's heap, which grows with the organizations it commits, gets the memory
// the arenas held instead of the budget counting both.
func releaseArenas(sorters []*sorter) error {
	errs := make(chan error, len(sorters))
	n := 0
	for _, so := range sorters {
		if so.s.Runs() == 0 && so.s.Held() <= keepInMemory {
			// Kept: a sorter that never spilled has touched only what it holds; the rest
			// of its mapping costs address space, not memory.
			so.account(int64(so.s.Held()))
			continue
		}
		n++
		go func() {
			err := so.s.Release()
			if err == nil {
				so.freeArena()
			}
			errs <- err
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
