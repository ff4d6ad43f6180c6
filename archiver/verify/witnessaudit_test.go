package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestWitnessAuditHeadsByKey: verify --date and verify --incremental do not walk the
// audit chains, but given a witness they must still compare its audit heads, read by
// key, as they read its manifest heads: a nightly `verify --incremental --witness` that
// passed with an organization's newest audit segments deleted would tell the auditor
// that the witnessed audit is intact when it is not. Before, both compared the manifest
// heads only, and passed.
func TestWitnessAuditHeadsByKey(t *testing.T) {
	ctx := context.Background()
	a := newArchive(t, 3)
	l := ledger.Ledger{Store: a.store}
	org := a.dir.Organizations[0].ID
	log := &audit.Log{Store: a.store, SigningKey: a.key}
	for i := range 3 {
		if err := log.Append(ctx, audit.Record{Time: a.days[2].Start().Add(time.Duration(i+1) * time.Hour), TokenName: "t", Org: org, Status: 200}); err != nil {
			t.Fatal(err)
		}
		if err := log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	heads, err := l.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auditHeads, err := audit.HeadsAt(ctx, a.store, a.days[2])
	if err != nil || len(auditHeads) != 1 || auditHeads[0].Seq != 3 {
		t.Fatalf("audit heads %+v, %v: want seq 3 of %s", auditHeads, err, org)
	}
	w := &archiver.Witness{Version: archiver.WitnessVersion, Heads: heads, AuditHeads: auditHeads}
	if rep := a.full(t, Options{Audit: audit.Verifier{}, Witness: w}); !rep.OK() || rep.Wrote == "" {
		t.Fatalf("full: %q", rep.Problems)
	}

	run := func(opt Options) *Report {
		t.Helper()
		opt.TrustedKey, opt.Directory, opt.Witness, opt.Audit = a.pub(), a.dir, w, audit.Verifier{}
		rep, err := Run(ctx, l, opt)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	named := func(rep *Report, want string) bool {
		return slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, want) })
	}
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"date", Options{From: a.days[2], To: a.days[2]}},
		{"incremental", Options{Incremental: true, Now: clockAt(a.next.Start().Add(time.Hour))}},
	} {
		if rep := run(c.opt); !rep.OK() {
			t.Fatalf("%s, witness intact: %q", c.name, rep.Problems)
		}
	}

	// The newest audit segment rewritten: another record under the same seq.
	seg := filepath.Join(rootOf(a), "audit", "orgs", org, a.days[2].String(), fmt.Sprintf("%012d.jsonl", 3))
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	log2 := &audit.Log{Store: a.store, SigningKey: a.key}
	if err := log2.Append(ctx, audit.Record{Time: a.days[2].Start().Add(5 * time.Hour), TokenName: "other", Org: org, Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := log2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"date", Options{From: a.days[2], To: a.days[2]}},
		{"incremental", Options{Incremental: true, Now: clockAt(a.next.Start().Add(2 * time.Hour))}},
	} {
		if rep := run(c.opt); !named(rep, "audit chain of organization "+org+": segment 3") {
			t.Errorf("%s, newest audit segment rewritten: problems %q, want the audit head's hash named", c.name, rep.Problems)
		}
	}

	// The newest audit segment deleted: the chain ends at 2 and holds together.
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  Options
	}{
		{"date", Options{From: a.days[2], To: a.days[2]}},
		{"incremental", Options{Incremental: true, Now: clockAt(a.next.Start().Add(3 * time.Hour))}},
	} {
		if rep := run(c.opt); !named(rep, "audit chain of organization "+org+": segment 3") {
			t.Errorf("%s, newest audit segment deleted: problems %q, want the witnessed audit head missing", c.name, rep.Problems)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "an organization's newest audit segment deleted or rewritten, checked by verify --date or --incremental with a witness", reliability.CleanFailure,
		"exit 1: the witness's audit heads are read by key and compared, as its manifest heads are (before, only a whole-store verify compared them)")
}
