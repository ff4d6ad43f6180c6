package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyAuditDayIndexMissing: the day index is how `chatvault audit` without --org
// finds every organization's segments of a day. An entry deleted (by a careless operator
// or to hide an organization's audit from the all-organizations listing) makes that
// listing silently leave the organization's records out; verify, which walks the chains
// themselves, reports the segment whose folder has no entry, and says what it hides. An
// entry without segments (one written by a writer that stopped, or by an attacker) hides
// nothing and is no problem.
func TestVerifyAuditDayIndexMissing(t *testing.T) {
	cs, ids, first, dir := auditHistory(t, 3, 2)
	ctx := context.Background()
	run := func() *verify.Report {
		t.Helper()
		rep, err := verify.Run(ctx, ledger.Ledger{Store: cs}, verify.Options{Audit: audit.Verifier{}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(); !rep.OK() {
		t.Fatalf("before: %v", rep.Problems)
	}
	// An entry for an organization and a day without segments: harmless.
	extra := filepath.Join(dir, "audit", "days", first.String(), "0a1c2e3f-0000-4000-8000-999999999999")
	if err := os.WriteFile(extra, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := run(); !rep.OK() {
		t.Fatalf("with an entry without segments: %v", rep.Problems)
	}
	// The entry of organization 1's first day deleted.
	entry := filepath.Join(dir, "audit", "days", first.String(), ids[1])
	if err := os.Remove(entry); err != nil {
		t.Fatal(err)
	}
	var n int
	log := &audit.Log{Store: cs, Now: time.Now}
	if err := log.ListAll(ctx, first, first.Next(), func(r audit.Record) error {
		if r.Org == ids[1] {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("listing every organization found %d of organization 1's records, want 1 (the day still indexed)", n)
	}
	rep := run()
	all := strings.Join(rep.Problems, "\n")
	if rep.OK() || !strings.Contains(all, "audit/days/"+first.String()+"/"+ids[1]) {
		t.Fatalf("verify after the day index entry was deleted: problems %v, want one naming the missing entry", rep.Problems)
	}
	if strings.Contains(all, ids[0]) || strings.Contains(all, ids[2]) {
		t.Fatalf("problems name organizations whose index is whole: %v", rep.Problems)
	}
	reliability.Record(t, "security", "audit day-index entry deleted, hiding an organization's records from chatvault audit without --org", reliability.Refused,
		"verify reports the segments whose day has no index entry; an entry without segments hides nothing and passes")
}
