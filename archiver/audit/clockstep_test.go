package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditAfterTheClockSteppedBack: serve's clock runs three days ahead for a while (an
// RTC wrong at boot, until NTP steps it back), then is right again. The chain moved on to
// the folder of 2026-11-28 and the writer never goes behind it, so the records made after
// the step back, of 2026-11-25, are stored there; a read of 2026-11-25 (GET /v1/audit,
// `chatvault audit`) listed that day's folder and the next and left them out without a
// word, and verify passed. They are now found through a pointer the writer leaves, by
// one organization's read and every organization's, once each and in chain order; the
// chain is not reordered (verify passes), and a pointer removed is reported by verify.
func TestAuditAfterTheClockSteppedBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	log := &audit.Log{Store: st, Now: func() time.Time { return now }}
	rec := func(org, date string) {
		t.Helper()
		if err := log.Append(ctx, audit.Record{Time: now, TokenID: "t", TokenName: "n", Org: org, Date: date, Status: 200, Complete: true, Client: "c"}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rec("o1", "a")
	rec("o2", "a2")
	now = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC) // the clock steps 3 days ahead
	rec("o1", "b")
	now = time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC) // and back
	rec("o1", "c")
	now = now.Add(time.Hour)
	rec("o1", "d")
	now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	rec("o1", "e")

	day := func(s string) archiver.Day {
		d, err := archiver.ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	list := func(org string, from, to string) []string {
		t.Helper()
		var got []string
		fn := func(r audit.Record) error { got = append(got, r.Date); return nil }
		if org == "" {
			err = log.ListAll(ctx, day(from), day(to), fn)
		} else {
			err = log.List(ctx, org, day(from), day(to), fn)
		}
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range []struct {
		org, from, to string
		want          []string
	}{
		{"o1", "2026-11-25", "2026-11-25", []string{"a", "c", "d"}},
		{"o1", "2026-11-26", "2026-11-26", []string{"e"}},
		{"o1", "2026-11-24", "2026-11-26", []string{"a", "c", "d", "e"}},
		// The range takes in the folder too: each record once, in chain order.
		{"o1", "2026-11-25", "2026-11-28", []string{"a", "b", "c", "d", "e"}},
		{"", "2026-11-25", "2026-11-25", []string{"a", "c", "d", "a2"}},
		{"", "2026-11-25", "2026-11-28", []string{"a", "b", "c", "d", "e", "a2"}},
	} {
		if got := list(c.org, c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("records of %q, %s..%s: %v, want %v", c.org, c.from, c.to, got, c.want)
		}
	}

	rep, err := verify.Run(ctx, ledger.Ledger{Store: st}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify after the clock stepped back: %v %q", err, rep.Problems)
	}
	// The pointers are a finding aid that verify checks: one removed is reported.
	var pointers []string
	_ = filepath.WalkDir(filepath.Join(dir, "audit", "late"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			pointers = append(pointers, p)
		}
		return nil
	})
	if len(pointers) != 3 { // o1's segments of c and d (2026-11-25) and e (2026-11-26) in the folder of 2026-11-28
		t.Fatalf("pointers %q, want 3", pointers)
	}
	if err := os.Remove(pointers[0]); err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(ctx, ledger.Ledger{Store: st}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, "audit/late/o1/2026-11-25/2026-11-28.") && strings.Contains(p, "missing")
	}) {
		t.Fatalf("verify with a pointer removed: %v %q, want a problem naming it", err, rep.Problems)
	}
	reliability.Record(t, "fault", "serve's clock runs 3 days ahead, then NTP steps it back: access records of a day stored in a folder 3 days later (the chain never goes back)",
		reliability.Kept,
		"the writer leaves a pointer (audit/late/<org>/<day>/…) to each such segment: a read of the day (GET /v1/audit, chatvault audit with and without --org) shows them once each, in chain order; "+
			"verify passes and reports a pointer removed; before, the day's read left them out without a word")
}
