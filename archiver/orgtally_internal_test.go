package archiver

import (
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

func liveHeapNow() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestOrgCommitCompactHeap counts the heap an organization's commit keeps once compact
// has run, its counts as the merge leaves them (every type counted, one exclusion): every
// commit waits until the day is done, so a day of 50,000 organizations keeps it 50,000
// times. The manifest's counts come back whole from it (unpack).
func TestOrgCommitCompactHeap(t *testing.T) {
	const n = 10_000
	before := liveHeapNow()
	commits := make([]*orgCommit, n)
	for i := range commits {
		c := newOrgCounts(map[string]int64{"bot": 1})
		for _, e := range eventTypes {
			c.ByEventType[e] = int64(i + 1)
		}
		for _, k := range contentTypes {
			c.ByContentType[k] = int64(i + 2)
		}
		c.Exported = int64(i)
		commits[i] = &orgCommit{OrgResult: OrgResult{Counts: *c}}
		commits[i].compact()
	}
	per := (int64(liveHeapNow()) - int64(before)) / n
	runtime.KeepAlive(commits)
	t.Logf("%d bytes of heap per compacted commit", per)
	// The orgCommit itself (576 bytes, its size class) and one exclusion map.
	const maxPer = 900
	if per > maxPer {
		t.Fatalf("%d bytes of heap per compacted commit, want at most %d", per, maxPer)
	}
	got := commits[n-1].tally.unpack(commits[n-1].Counts)
	if got.ByEventType[eventTypes[0]] != n || got.ByContentType[contentTypes[4]] != n+1 || got.Excluded["bot"] != 1 || got.Exported != n-1 {
		t.Fatalf("counts unpacked as %+v", got)
	}
	reliability.Record(t, "operations", "seal: an organization's counts by type, kept until its manifest is written", reliability.Kept,
		"two arrays in its commit, not two maps (and an empty exclusion map dropped): at most 900 bytes per commit, was about 1,350")
}
