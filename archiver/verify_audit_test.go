package archiver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// recordingAudit is an AuditVerifier that notes what Verify gave it and reports one
// problem, to see that the problem reaches the report.
type recordingAudit struct {
	calls int
	org   string
}

func (r *recordingAudit) VerifyAudit(ctx context.Context, s archiver.Store, org string, _ []ed25519.PublicKey, rep archiver.AuditReport) error {
	r.calls++
	r.org = org
	rep.Object(10)
	rep.Problem("%s: forged", "audit/orgs/x/2026-11-22/000000000001.jsonl")
	rep.CheckLock(ctx, "audit/orgs/x/2026-11-22/000000000001.jsonl", time.Time{}) // an unlocking store: nothing
	return rep.CheckVersions(ctx, "audit/")
}

// TestVerifyAuditHook: the root does not know the audit's layout; Verify runs the audit
// verifier it is given (archiver/audit's in every command) and reports what it finds.
// Without one, a store holding audit objects gets a warning that they were not verified,
// never silence that would read as a verified audit.
func TestVerifyAuditHook(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sampleLog)
	s := &archiver.Sealer{Source: f.src, Store: f.store, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	if _, err := s.Seal(ctx, sampleDay, f.directory, ""); err != nil {
		t.Fatal(err)
	}
	ledger := archiver.Ledger{Store: f.store}
	warned := func(rep *archiver.VerifyReport) bool {
		return strings.Contains(strings.Join(rep.Warnings, "\n"), "access audit was not verified")
	}
	rep, err := ledger.Verify(ctx, archiver.VerifyOptions{})
	if err != nil || !rep.OK() || warned(rep) {
		t.Fatalf("no audit objects, no verifier: %v %v %v", err, rep.Problems, rep.Warnings)
	}
	body := "{}\n"
	if err := f.store.Create(ctx, "audit/orgs/x/2026-11-22/000000000001.jsonl", strings.NewReader(body), int64(len(body)),
		sha256.Sum256([]byte(body)), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err = ledger.Verify(ctx, archiver.VerifyOptions{})
	if err != nil || !rep.OK() || !warned(rep) {
		t.Fatalf("audit objects, no verifier: want a warning: %v %v %v", err, rep.Problems, rep.Warnings)
	}
	ra := &recordingAudit{}
	rep, err = ledger.Verify(ctx, archiver.VerifyOptions{Org: "x", Audit: ra})
	if err != nil || ra.calls != 1 || ra.org != "x" || rep.OK() || warned(rep) {
		t.Fatalf("with a verifier: %v, %d calls for %q, problems %v, warnings %v", err, ra.calls, ra.org, rep.Problems, rep.Warnings)
	}
	reliability.Record(t, "security", "verify run without the access audit's verifier on a store holding audit segments", reliability.Kept,
		"a warning says the audit was not verified; with the verifier (every command sets it) its problems fail verify")
}
