package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"text/tabwriter"
	"unicode/utf8"

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
			outcome = "FAILED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", o.Org, o.Name, outcome, o.Revision,
			o.Counts.Exported, o.Counts.Duplicates, sum(o.Counts.Excluded), o.Data.Size)
	}
	tw.Flush()
	// Failures follow the table (TestOrgTableFailureBelowTheTable).
	for _, o := range orgs {
		if o.Err != nil {
			fmt.Fprintf(w, "  FAILED: organization %s (%s): %v\n", o.Org, o.Name, o.Err)
		}
	}
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

// TestOrgTableFailureBelowTheTable: a failed organization's message (a refused revision's
// is some 350 characters, with the --supersede command) was its OUTCOME cell, which padded
// every row of the table, every organization's, to its width. The cell says FAILED and
// the message follows the table on a line of its own, whole.
func TestOrgTableFailureBelowTheTable(t *testing.T) {
	orgs := tableOrgs(40)
	msg := "organization org-00000002 (Þór Verk Co. 701), 2026-11-22: the new records would drop 1 of the 12 records of revision 1 (and add 0); " +
		"nothing committed, revision 1 stays served. If the loss is intended, supersede it explicitly: " +
		"chatvault run --date 2026-11-22 --org org-00000002 --supersede --reason TEXT"
	orgs[2].Err = errors.New(msg)
	orgs[5].Err = errors.New("store: slow down")
	var out bytes.Buffer
	printOrgTable(&out, orgs)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+len(orgs)+2 {
		t.Fatalf("%d lines, want the header, %d rows and 2 failures:\n%s", len(lines), len(orgs), out.String())
	}
	for _, l := range lines[:1+len(orgs)] {
		if n := utf8.RuneCountInString(l); n > 120 {
			t.Fatalf("a table row is %d characters wide:\n%s", n, out.String())
		}
	}
	if !strings.Contains(lines[3], " FAILED ") {
		t.Errorf("the failed organization's row does not say FAILED: %q", lines[3])
	}
	if want := "  FAILED: " + msg; lines[len(orgs)+1] != want {
		t.Errorf("first failure line %q, want %q", lines[len(orgs)+1], want)
	}
	if want := "  FAILED: organization org-00000005 (Acme Inc. 1): store: slow down"; lines[len(orgs)+2] != want {
		t.Errorf("second failure line %q, want %q (an error that does not name the organization is prefixed with it)", lines[len(orgs)+2], want)
	}
	reliability.Record(t, "operations", "run's summary with an organization failed with a long message (a refused revision)", reliability.Kept,
		"the table's OUTCOME says FAILED and the message follows the table, whole; it was the cell, padding every row to 350+ characters")
}
