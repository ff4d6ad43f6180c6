package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditWithoutVerifier: a full verification given no audit verifier says that the
// audit objects of the store were not verified, instead of passing them in silence; with
// one, it runs it.
func TestAuditWithoutVerifier(t *testing.T) {
	a := newArchive(t, 1)
	b := []byte("{}\n")
	if err := a.store.Create(context.Background(), "audit/legacy.json", bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	warned := func(rep *Report, want string) bool {
		return slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, want) })
	}
	rep, err := Run(context.Background(), ledger.Ledger{Store: a.store}, Options{TrustedKey: a.pub()})
	if err != nil || !warned(rep, "the access audit was not verified") {
		t.Fatalf("no audit verifier: %v, warnings %q", err, rep.Warnings)
	}
	rep, err = Verifier{Ledger: ledger.Ledger{Store: a.store}, Audit: audit.Verifier{}}.Verify(context.Background(), Options{TrustedKey: a.pub()})
	if err != nil || warned(rep, "the access audit was not verified") || !warned(rep, "1 audit objects of the previous layout") {
		t.Fatalf("with the audit verifier: %v, warnings %q", err, rep.Warnings)
	}
}

// recordingAudit is an AuditVerifier that notes what the verification gave it and reports
// one problem, to see that the problem reaches the report.
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

// TestVerifyAuditHook: the verification does not know the audit's layout; it runs the
// audit verifier it is given (archiver/audit's in every command) and its problems fail it.
func TestVerifyAuditHook(t *testing.T) {
	a := newArchive(t, 1)
	ra := &recordingAudit{}
	rep, err := Run(context.Background(), ledger.Ledger{Store: a.store}, Options{TrustedKey: a.pub(), Audit: ra})
	if err != nil || ra.calls != 1 || rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "forged") }) {
		t.Fatalf("with a verifier: %v, %d calls, problems %v", err, ra.calls, rep.Problems)
	}
	reliability.Record(t, "security", "verify run without the access audit's verifier on a store holding audit segments", reliability.Kept,
		"a warning says the audit was not verified; with the verifier (every command sets it) its problems fail verify")
}
