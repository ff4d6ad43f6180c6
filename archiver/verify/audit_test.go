package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
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
	rep, err := Run(context.Background(), archiver.Ledger{Store: a.store}, Options{TrustedKey: a.pub()})
	if err != nil || !warned(rep, "the access audit was not verified") {
		t.Fatalf("no audit verifier: %v, warnings %q", err, rep.Warnings)
	}
	rep, err = Verifier{Ledger: archiver.Ledger{Store: a.store}, Audit: archiver.AuditChains{}}.Verify(context.Background(), Options{TrustedKey: a.pub()})
	if err != nil || warned(rep, "the access audit was not verified") || !warned(rep, "1 audit objects of the previous layout") {
		t.Fatalf("with the audit verifier: %v, warnings %q", err, rep.Warnings)
	}
}
