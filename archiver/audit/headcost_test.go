package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditHeadLookupIsBounded: the first audit write of a process for an organization
// finds its chain's head without listing the organization's whole audit history: with 10
// and with 40 days of segments, its last one 5 days back (neither today's nor
// yesterday's folder), the write costs the same requests and lists the same keys, and
// the chain it extends verifies. Counted, not timed.
func TestAuditHeadLookupIsBounded(t *testing.T) {
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		cs, ids, first, _ := auditHistory(t, 2, days)
		c := storetest.NewCounting(cs.Store)
		now := first.Start().AddDate(0, 0, days-1+5).Add(9 * time.Hour)
		log := &audit.Log{Store: c, Now: func() time.Time { return now }}
		ctx := context.Background()
		if err := log.Append(ctx, audit.Record{Time: now, Org: ids[1], Status: 200, Date: archiver.DayOf(now).String()}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cost := c.Counts()
		t.Logf("%d days of audit: the first write %v", days, cost)
		costs = append(costs, cost)
		rep, err := verify.Run(ctx, ledger.Ledger{Store: cs.Store}, verify.Options{Audit: audit.Verifier{}})
		if err != nil || !rep.OK() {
			t.Fatalf("verify after the write: %v %v", err, rep.Problems)
		}
		var n int
		if err := log.List(ctx, ids[1], first, archiver.DayOf(now), func(audit.Record) error { n++; return nil }); err != nil || n != days+1 {
			t.Fatalf("List: %d records, %v; want %d", n, err, days+1)
		}
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] {
		t.Fatalf("the first audit write's head lookup grew with the history: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "first audit write of a process for an organization with a long audit history", reliability.Kept,
		"counted: its chain head is found by bounded probes of the folders by date, the same requests and listed keys with 10 or 40 days of segments; the chain verifies")
}

// TestAuditHeadAfterGaps: processes that each write one organization's audit once, after
// gaps of 0 to 159 days (and on the first day), each find the chain's head by probing
// and extend it: the chain verifies, with every record in it.
func TestAuditHeadAfterGaps(t *testing.T) {
	store, _ := newAuditStore(t)
	ctx := context.Background()
	first := archiver.DayOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	offsets := []int{0, 0, 1, 3, 40, 41, 42, 200, 201, 359}
	for _, off := range offsets {
		now := first.Start().AddDate(0, 0, off).Add(10 * time.Hour)
		log := &audit.Log{Store: store, Now: func() time.Time { return now }} // a new process
		if err := log.Append(ctx, audit.Record{Time: now, Org: auditOrgA, Status: 200}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatalf("write on day %d: %v", off, err)
		}
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	var n int
	log := &audit.Log{Store: store}
	if err := log.List(ctx, auditOrgA, first, archiver.DayOf(first.Start().AddDate(0, 0, 400)), func(audit.Record) error { n++; return nil }); err != nil || n != len(offsets) {
		t.Fatalf("List: %d records, %v; want %d", n, err, len(offsets))
	}
}

// TestAuditHeadsPerOrganization: the witness's audit heads (chatvault witness) are found
// per organization, from the folders of audit/orgs/ and each organization's head lookup,
// not by listing every segment ever written: with 10 and 40 days of segments of 3
// organizations, the same requests and listed keys, and the same heads as the chains' last
// segments.
func TestAuditHeadsPerOrganization(t *testing.T) {
	var costs []storetest.Counts
	for _, days := range []int{10, 40} {
		cs, ids, first, _ := auditHistory(t, 3, days)
		c := storetest.NewCounting(cs.Store)
		heads, err := audit.HeadsAt(context.Background(), c, archiver.DayOf(first.Start().AddDate(0, 0, days-1+5)))
		if err != nil {
			t.Fatal(err)
		}
		cost := c.Counts()
		t.Logf("%d days of audit: Heads %v", days, cost)
		costs = append(costs, cost)
		last := archiver.DayOf(first.Start().AddDate(0, 0, days-1))
		if len(heads) != len(ids) {
			t.Fatalf("%d heads, want %d", len(heads), len(ids))
		}
		for i, h := range heads {
			// Each day's segment, and a closing one before each later day's: 2·days − 1.
			if h.Org != ids[i] || h.Date != last.String() || h.Seq != int64(2*days-1) {
				t.Fatalf("head %+v, want %s's seq %d of %s", h, ids[i], 2*days-1, last)
			}
		}
	}
	if costs[0].Requests() != costs[1].Requests() || costs[0]["Keys"] != costs[1]["Keys"] {
		t.Fatalf("the audit heads' cost grew with the history: %v with 10 days, %v with 40", costs[0], costs[1])
	}
	reliability.Record(t, "operations", "witness audit heads over organizations with a long audit history", reliability.Kept,
		"counted: the organizations' folders and one bounded head lookup each, the same requests and keys with 10 or 40 days of segments")
}
