package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditReplicasAcrossMidnight: two serve replicas extend one organization's chain.
// Replica B's last write was yesterday; replica A then writes one segment before midnight,
// and B, after midnight, writes today's. B's head in memory is stale, and today's folder
// holds no key B could collide with: B must still extend A's segment, not fork the chain
// with a second segment of the same seq.
func TestAuditReplicasAcrossMidnight(t *testing.T) {
	store, _ := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 23, 50, 0, 0, time.UTC)}
	a := &audit.Log{Store: store, Now: clk.Now}
	b := &audit.Log{Store: store, Now: clk.Now}
	ctx := context.Background()
	write := func(log *audit.Log, status int) {
		t.Helper()
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: status}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(b, 200) // seq 1, B knows the head
	clk.Add(5 * time.Minute)
	write(a, 201) // seq 2, 23:55, B does not know it
	clk.Add(10 * time.Minute)
	write(b, 202) // 00:05 the next day
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify after two replicas wrote across midnight: %v\nsegments: %v", rep.Problems, auditKeys(t, store))
	}
	// Three segments of records, and the one closing the first day's folder.
	if keys := auditKeys(t, store); len(keys) != 4 {
		t.Fatalf("%d segments, want 4: %v", len(keys), keys)
	}
	from, _ := archiver.ParseDay("2026-11-23")
	var statuses []int
	if err := a.List(ctx, auditOrgA, from, from.Next(), func(r audit.Record) error {
		statuses = append(statuses, r.Status)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 3 || statuses[0] != 200 || statuses[1] != 201 || statuses[2] != 202 {
		t.Fatalf("records listed: %v, want 200 201 202", statuses)
	}
	reliability.Record(t, "crash", "two serve replicas extend one organization's audit chain across midnight", reliability.Kept,
		"a replica whose head in memory is stale never writes a second segment of the same seq in a later day's folder: it checks the store for a newer head first, so the chain stays one gapless chain")
}

// TestAuditClosingSegmentFolderChecked: the segment after a closing one must be in the
// folder the closing one names; moved to another day's folder (its header edited to
// match, its chain links intact), verify reports it.
func TestAuditClosingSegmentFolderChecked(t *testing.T) {
	store, dir := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 23, 55, 0, 0, time.UTC)}
	log := &audit.Log{Store: store, Now: clk.Now}
	ctx := context.Background()
	for range 2 {
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Add(10 * time.Minute)
	}
	keys := auditKeys(t, store)
	if len(keys) != 3 {
		t.Fatalf("segments: %v, want a segment, a closing one and a segment", keys)
	}
	last := keys[2]
	moved := strings.Replace(last, "2026-11-24", "2026-11-25", 1)
	b, err := os.ReadFile(filepath.Join(dir, last))
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"date":"2026-11-24"`, `"date":"2026-11-25"`, 1))
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, moved)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, moved), b, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, last)); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || strings.Contains(p, "closing segment before it leads the chain to the folder of 2026-11-24")
	}
	if !found {
		t.Fatalf("verify problems: %v, want the segment after the closing one reported as out of its folder", rep.Problems)
	}
	reliability.Record(t, "security", "audit segment after a closing segment moved to another day's folder", reliability.Refused,
		"verify reports it: the closing segment fixes the folder the chain goes on in")
}
