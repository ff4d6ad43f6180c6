package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"text/tabwriter"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

func tableOrgs(n int) []archiver.OrgResult {
	names := []string{"Acme Inc. 1", "Kōwhai Inc. 309", "Þór Verk Co. 701", "株式会社 7", "x"}
	orgs := make([]archiver.OrgResult, n)
	for i := range orgs {
		orgs[i] = archiver.OrgResult{
			Org: fmt.Sprintf("org-%08d", i), Name: names[i%len(names)], Outcome: archiver.OutcomeCommitted, Revision: 1 + i%3,
			Counts: archiver.OrgCounts{Exported: int64(i * 7 % 1000), Duplicates: int64(i % 5), Excluded: map[string]int64{"bot": int64(i % 2)}},
			Data:   archiver.DataObject{Size: int64(i * 131 % 100000)},
		}
	}
	if n > 3 {
		orgs[2].Err = errors.New("store: slow down")
		orgs[3].Outcome = archiver.OutcomeUnchanged
	}
	return orgs
}

// tabwriterTable is how run printed its table before printOrgTable.
func tabwriterTable(w io.Writer, orgs []archiver.OrgResult) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORG\tNAME\tOUTCOME\tREV\tEXPORTED\tDUPLICATES\tEXCLUDED\tBYTES\t")
	for _, o := range orgs {
		outcome := o.Outcome
		if o.Err != nil {
			outcome = "FAILED: " + o.Err.Error()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", o.Org, o.Name, outcome, o.Revision,
			o.Counts.Exported, o.Counts.Duplicates, sum(o.Counts.Excluded), o.Data.Size)
	}
	tw.Flush()
}

// TestOrgTableAsTabwriter checks that run's table of organizations, printed a row at a
// time, has the bytes text/tabwriter gave it (multi-byte names included).
func TestOrgTableAsTabwriter(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300} {
		orgs := tableOrgs(n)
		var want, got bytes.Buffer
		tabwriterTable(&want, orgs)
		printOrgTable(&got, orgs)
		if got.String() != want.String() {
			t.Fatalf("%d organizations: table\n%s\nwant\n%s", n, got.String(), want.String())
		}
	}
}

// heapAtWrite notes the live heap when the table's last row is written.
type heapAtWrite struct {
	last string
	heap uint64
}

func (h *heapAtWrite) Write(p []byte) (int, error) {
	if h.heap == 0 && bytes.Contains(p, []byte(h.last)) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		h.heap = ms.HeapAlloc
	}
	return len(p), nil
}

// TestOrgTableHeapPerOrg counts the heap run's summary holds per organization while it
// prints the table: with 50,000 organizations, a table kept whole until it is flushed
// (text/tabwriter) held some 20 MiB at the very end of the seal.
func TestOrgTableHeapPerOrg(t *testing.T) {
	const n = 20_000
	orgs := tableOrgs(n)
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	h := &heapAtWrite{last: orgs[n-1].Org}
	printOrgTable(h, orgs)
	runtime.KeepAlive(orgs) // measured with the results, which the summary's caller holds
	if h.heap == 0 {
		t.Fatal("the last organization was not printed")
	}
	per := (int64(h.heap) - int64(before)) / n
	t.Logf("%d bytes of heap per organization held while printing the table of %d", per, n)
	if per > 16 {
		t.Fatalf("%d bytes of heap per organization held while printing the table, want at most 16", per)
	}
	reliability.Record(t, "operations", "run: heap held per organization to print the summary table", reliability.Kept,
		"at most 16 bytes, was about 300: the columns' widths are measured in a first pass, then rows printed one at a time, not kept whole by text/tabwriter")
}
